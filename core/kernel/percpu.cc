// PerCpuLayout: per-CPU offsets and masks from guest memory.
#include "core/kernel/percpu.h"

#include <bit>

#include "absl/strings/str_cat.h"
#include "core/base/caps.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

// struct cpumask is a bitmap of unsigned longs; read the words covering nr_cpu_ids.
absl::StatusOr<std::vector<uint64_t>> ReadMask(Reader& reader, Kva at, uint32_t nr_cpu_ids) {
  std::vector<uint64_t> words((nr_cpu_ids + 63) / 64);
  KF_RETURN_IF_ERROR(reader.ReadVirt(
      at, std::span<uint8_t>(reinterpret_cast<uint8_t*>(words.data()), words.size() * 8)));
  return words;
}

}  // namespace

PerCpuLayout::PerCpuLayout(uint32_t nr_cpu_ids, std::vector<uint64_t> offsets,
                           std::optional<std::vector<bool>> possible_mask,
                           std::optional<uint32_t> online_count)
    : nr_cpu_ids_(nr_cpu_ids), offsets_(std::move(offsets)), online_count_(online_count) {
  is_possible_.assign(offsets_.size(), false);
  for (CpuId cpu = 0; cpu < offsets_.size(); ++cpu) {
    bool in_mask = !possible_mask || (cpu < possible_mask->size() && (*possible_mask)[cpu]);
    if (in_mask && (cpu == 0 || offsets_[cpu] != 0)) {
      is_possible_[cpu] = true;
      possible_.push_back(cpu);
    }
  }
}

absl::StatusOr<PerCpuLayout> PerCpuLayout::Read(Reader& reader, const SymbolIndex& symbols) {
  KF_ASSIGN_OR_RETURN(Kva nr_sym, symbols.Require("nr_cpu_ids"));
  KF_ASSIGN_OR_RETURN(uint32_t nr_cpu_ids, reader.ReadU32(nr_sym));
  if (nr_cpu_ids == 0 || nr_cpu_ids > caps::kMaxCpus) {
    return BadData(absl::StrCat("nr_cpu_ids = ", nr_cpu_ids, " outside [1, ", caps::kMaxCpus, "]"));
  }
  KF_ASSIGN_OR_RETURN(Kva offsets_sym, symbols.Require("__per_cpu_offset"));
  std::vector<uint64_t> offsets(nr_cpu_ids);
  KF_RETURN_IF_ERROR(reader.ReadVirt(
      offsets_sym,
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(offsets.data()), nr_cpu_ids * 8ull)));

  std::optional<std::vector<bool>> possible;
  if (std::optional<Symbol> s = symbols.Find("__cpu_possible_mask")) {
    KF_ASSIGN_OR_RETURN(std::vector<uint64_t> words, ReadMask(reader, s->address, nr_cpu_ids));
    possible.emplace(nr_cpu_ids);
    for (uint32_t cpu = 0; cpu < nr_cpu_ids; ++cpu)
      (*possible)[cpu] = (words[cpu / 64] >> (cpu % 64)) & 1;
  }
  std::optional<uint32_t> online;
  if (std::optional<Symbol> s = symbols.Find("__cpu_online_mask")) {
    KF_ASSIGN_OR_RETURN(std::vector<uint64_t> words, ReadMask(reader, s->address, nr_cpu_ids));
    uint32_t count = 0;
    for (uint32_t cpu = 0; cpu < nr_cpu_ids; ++cpu) count += (words[cpu / 64] >> (cpu % 64)) & 1;
    online = count;
  }
  PerCpuLayout layout(nr_cpu_ids, std::move(offsets), std::move(possible), online);
  if (layout.PossibleCpus().empty()) return BadData("no possible CPU has a per-CPU area");
  return layout;
}

absl::StatusOr<Kva> PerCpuLayout::PerCpuPtr(Kva symbol, CpuId cpu) const {
  if (cpu >= is_possible_.size() || !is_possible_[cpu]) {
    return absl::OutOfRangeError(absl::StrCat("CPU ", cpu, " has no per-CPU area"));
  }
  return symbol + offsets_[cpu];
}

}  // namespace kfreeze
