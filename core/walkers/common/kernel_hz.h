// CONFIG_HZ of the guest kernel, which no symbol stores directly. kernel/time/jiffies.c registers
// clocksource_jiffies with mult = TICK_NSEC << JIFFIES_SHIFT and shift = JIFFIES_SHIFT, and
// TICK_NSEC = round(NSEC_PER_SEC / HZ); registration without a frequency leaves both untouched.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"

namespace kfreeze::walkers {

// HZ, or an error naming what was missing; values outside the kernel's Kconfig choices
// (100, 250, 300, 1000, and 24..1200 for some arches) are rejected as implausible.
absl::StatusOr<uint32_t> ReadKernelHz(Reader& reader, const KernelView& kernel);

// Where jiffies live: jiffies_64 (x86-64 aliases jiffies to it), else jiffies.
absl::StatusOr<Kva> JiffiesAddress(const SymbolIndex& symbols);

}  // namespace kfreeze::walkers
