// A fake guest kernel for walker tests and the guest-memory fuzzer: guest memory, the BTF a test
// declares, per-CPU units and a symbol table. A world derived from it declares its BTF and lays out
// its objects in its constructor, then calls Finish() with its symbols.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "core/btf/offset_resolver.h"
#include "core/kernel/percpu.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::testing {

struct KernelWorld {
  static constexpr uint64_t kUnitBytes = 4096;

  // `cpus` CPUs whose per-CPU units follow a template unit (`tmpl`) in guest memory.
  explicit KernelWorld(uint32_t cpus = 2) {
    tmpl = g.Alloc(kUnitBytes, kUnitBytes);
    std::vector<uint64_t> offsets;
    for (uint32_t cpu = 0; cpu < cpus; ++cpu) {
      units.push_back(g.Alloc(kUnitBytes, kUnitBytes));
      offsets.push_back(units.back() - tmpl);
    }
    percpu = std::make_unique<PerCpuLayout>(cpus, offsets);
  }

  // One CPU and no per-CPU memory, for kernels whose walkers read no per-CPU data.
  struct NoPerCpuData {};
  explicit KernelWorld(NoPerCpuData)
      : percpu(std::make_unique<PerCpuLayout>(1, std::vector<uint64_t>{0})) {}

  // Last step of a world's constructor: the resolver sees only BTF declared before this call.
  void Finish(std::vector<SymbolIndex::Entry> globals) {
    resolver = btf.MakeResolver();
    symbols = std::make_unique<SymbolIndex>(std::move(globals));
  }

  walkers::KernelView view() const { return {*resolver, *symbols, *percpu}; }

  // Runs one walker over this kernel: builds its context from view(), captures a fresh report.
  template <class BuildFn, class CaptureFn>
  kfreeze::v1::FailureDumpReport Capture(BuildFn build, CaptureFn capture) const {
    Reader r = g.MakeReader();
    kfreeze::v1::FailureDumpReport report;
    capture(r, build(view()), report);
    return report;
  }

  FakeGuest g;
  TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  // Built in place: SymbolIndex keeps views into its own name storage.
  std::unique_ptr<SymbolIndex> symbols;
  std::unique_ptr<PerCpuLayout> percpu;
  Kva tmpl;
  std::vector<Kva> units;
};

}  // namespace kfreeze::testing
