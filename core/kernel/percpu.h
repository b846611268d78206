// Per-CPU areas (include/linux/percpu-defs.h, mm/percpu.c): nr_cpu_ids, __per_cpu_offset[] and the
// possible-CPU mask, read once at attach. PossibleCpus() owns the zero-tail rule; PerCpuPtr() is
// the one per_cpu_ptr() every walker uses.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"

namespace kfreeze {

class PerCpuLayout {
 public:
  // Reads nr_cpu_ids, __per_cpu_offset[0..nr_cpu_ids) and, when present, __cpu_possible_mask and
  // __cpu_online_mask.
  static absl::StatusOr<PerCpuLayout> Read(Reader& reader, const SymbolIndex& symbols);
  // For tests and callers that already know the values.
  PerCpuLayout(uint32_t nr_cpu_ids, std::vector<uint64_t> offsets,
               std::optional<std::vector<bool>> possible_mask = {},
               std::optional<uint32_t> online_count = {});

  uint32_t nr_cpu_ids() const { return nr_cpu_ids_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }
  // CPUs with a per-CPU area: below nr_cpu_ids, in the possible mask (when known), and with a
  // non-zero offset unless CPU 0. Entries never set up keep a zero offset (the array's BSS tail);
  // reading "their" area would alias the per-CPU template.
  const std::vector<CpuId>& PossibleCpus() const { return possible_; }
  std::optional<uint32_t> online_count() const { return online_count_; }

  // per_cpu_ptr(symbol, cpu) = symbol + __per_cpu_offset[cpu]; fails for CPUs not possible.
  absl::StatusOr<Kva> PerCpuPtr(Kva symbol, CpuId cpu) const;

 private:
  uint32_t nr_cpu_ids_ = 0;
  std::vector<uint64_t> offsets_;
  std::vector<CpuId> possible_;
  std::vector<bool> is_possible_;
  std::optional<uint32_t> online_count_;
};

}  // namespace kfreeze
