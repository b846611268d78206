// What kernel walkers are built from at attach time: BTF offsets, symbols and per-CPU areas.
// Borrowed from the KernelContext (or a test's fakes), which must outlive every walker.
#pragma once

#include "core/btf/offset_resolver.h"
#include "core/kernel/percpu.h"
#include "core/kernel/symbols.h"

namespace kfreeze::walkers {

struct KernelView {
  const OffsetResolver& btf;
  const SymbolIndex& symbols;
  const PerCpuLayout& percpu;
};

}  // namespace kfreeze::walkers
