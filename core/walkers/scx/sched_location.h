// Where the attached scheduler keeps its state. From 6.16 it is one struct scx_sched behind
// scx_root; 6.12-6.15 keep the same state in kernel/sched/ext.c globals (scx_ops, scx_exit_kind,
// scx_exit_info, dsq_hash, global_dsqs, event_stats_cpu). Both become one SchedLocation, so the
// readers of scheduler state, DSQs and event counters never ask which kernel they run on.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"

namespace kfreeze::walkers::scx {

// A per-CPU object: its per-CPU template address is either fixed (a DEFINE_PER_CPU global) or
// held in a `__percpu` pointer that is read at freeze time (a member of scx_sched).
struct PerCpuObject {
  Kva at;
  bool via_pointer = false;
  uint64_t member = 0;  // offset of the wanted member inside the per-CPU object
};

struct SchedLocation {
  Kva id;         // scx_sched, or &scx_ops on the globals layout (reported as sched_kva)
  Kva ops;        // struct sched_ext_ops
  Kva exit_kind;  // atomic_t
  std::optional<Kva> exit_info_ptr;     // holds struct scx_exit_info *
  std::optional<Kva> dsq_hash;          // struct rhashtable of user DSQs
  std::optional<Kva> aborting;          // bool
  std::optional<Kva> bypass_depth;      // int
  std::optional<Kva> watchdog_timeout;  // unsigned long, jiffies
  // Global DSQs: a pointer to an array of nr_node_ids pointers whose element + `global_dsq_member`
  // is the node's DSQ (global_dsqs[node] before 7.1, pnode[node]->global_dsq from 7.1).
  std::optional<Kva> global_dsqs_ptr;
  uint64_t global_dsq_member = 0;
  std::optional<PerCpuObject> event_stats;  // struct scx_event_stats
  std::optional<PerCpuObject> bypass_dsq;   // struct scx_dispatch_q
};

// The attached scheduler; nullopt when none is attached (scx_root NULL, or the globals layout
// in SCX_DISABLED state). FailedPrecondition when the kernel has no readable sched_ext state.
absl::StatusOr<std::optional<SchedLocation>> LocateSched(Reader& reader, const ScxContext& ctx);

// The template address of a per-CPU object (before adding a CPU's offset).
absl::StatusOr<Kva> PerCpuTemplate(Reader& reader, const PerCpuObject& object);

}  // namespace kfreeze::walkers::scx
