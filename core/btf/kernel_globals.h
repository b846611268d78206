// The kernel globals kfreeze reads and their C types. vmlinux BTF describes types but (outside
// per-CPU sections) not global variables, so this one table is the single place that says what
// lives at a symbol. Walkers look their root symbols up here instead of spelling types inline.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/btf/offset_resolver.h"

namespace kfreeze {

enum class GlobalStorage : uint8_t {
  kPlain,   // one object at the symbol's address
  kPerCpu,  // the symbol is a per-CPU template: add __per_cpu_offset[cpu]
};

struct KernelGlobal {
  absl::string_view symbol;
  absl::string_view type;  // C spelling: "struct idr", "struct scx_sched *", "unsigned long[]"
  GlobalStorage storage;
};

inline constexpr KernelGlobal kKernelGlobals[] = {
    // attach
    {"page_offset_base", "unsigned long", GlobalStorage::kPlain},
    {"nr_cpu_ids", "unsigned int", GlobalStorage::kPlain},
    {"__per_cpu_offset", "unsigned long[]", GlobalStorage::kPlain},
    {"__cpu_possible_mask", "struct cpumask", GlobalStorage::kPlain},
    {"__cpu_online_mask", "struct cpumask", GlobalStorage::kPlain},
    {"init_uts_ns", "struct uts_namespace", GlobalStorage::kPlain},
    {"init_task", "struct task_struct", GlobalStorage::kPlain},
    {"jiffies_64", "u64", GlobalStorage::kPlain},
    // BPF
    {"map_idr", "struct idr", GlobalStorage::kPlain},
    {"prog_idr", "struct idr", GlobalStorage::kPlain},
    // sched_ext
    {"scx_root", "struct scx_sched *", GlobalStorage::kPlain},
    {"scx_tasks", "struct list_head", GlobalStorage::kPlain},
    {"runqueues", "struct rq", GlobalStorage::kPerCpu},
    // CPU time, PSI, NUMA
    {"kernel_cpustat", "struct kernel_cpustat", GlobalStorage::kPerCpu},
    {"kstat", "struct kernel_stat", GlobalStorage::kPerCpu},
    {"tick_cpu_sched", "struct tick_sched", GlobalStorage::kPerCpu},
    {"psi_system", "struct psi_group", GlobalStorage::kPlain},
    {"cgrp_dfl_root", "struct cgroup_root", GlobalStorage::kPlain},
    {"node_data", "struct pglist_data *[]", GlobalStorage::kPlain},
};

const KernelGlobal* FindKernelGlobal(absl::string_view symbol);

// A global's type resolved against BTF: the base type plus pointer depth and array-ness.
struct GlobalType {
  uint32_t base_type_id = 0;
  uint64_t base_size = 0;
  int pointer_depth = 0;  // "struct scx_sched *" -> 1
  bool is_array = false;  // "unsigned long[]" -> true
  // Bytes at the symbol for a non-array global (8 for pointers).
  uint64_t ObjectSize() const { return pointer_depth > 0 ? 8 : base_size; }
};

absl::StatusOr<GlobalType> ResolveGlobalType(const OffsetResolver& resolver,
                                             const KernelGlobal& global);

}  // namespace kfreeze
