// Everything the sched_ext walkers need that does not change while the guest runs one kernel:
// offsets, root symbols, HZ, node count, sched_class symbols. Built once at attach; the freeze
// path only reads guest memory through it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/base/types.h"
#include "core/kernel/percpu.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "core/walkers/scx/scx_offsets.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// How this kernel roots its scheduler state, detected from symbols: kScxRoot (6.16+: struct
// scx_sched behind scx_root) or kScxOpsGlobals (6.12-6.15: scx_ops, scx_exit_kind, scx_exit_info,
// dsq_hash, global_dsqs as ext.c globals). LocateSched hides the difference from the readers.
enum class ScxLayout : uint8_t { kNone, kScxRoot, kScxOpsGlobals };

struct ScxRoots {
  std::optional<Kva> scx_root;          // struct scx_sched __rcu *
  std::optional<Kva> scx_tasks;         // LIST_HEAD of every sched_ext-managed task
  std::optional<Kva> runqueues;         // per-CPU struct rq template
  std::optional<Kva> jiffies;           // jiffies_64
  std::optional<Kva> enable_state;      // atomic_t scx_enable_state_var
  std::optional<Kva> enable_seq;        // atomic_long_t scx_enable_seq
  std::optional<Kva> watchdog_timeout;  // global before it moved into scx_sched (7.1)
  std::optional<Kva> bypass_depth;      // scx_ops_bypass_depth / scx_bypass_depth, before 7.1
  std::optional<Kva> aborting;          // bool scx_aborting, 6.19-7.0
  // kScxOpsGlobals only: the scheduler's state as ext.c globals.
  std::optional<Kva> ops;              // struct sched_ext_ops scx_ops
  std::optional<Kva> exit_kind;        // atomic_t scx_exit_kind
  std::optional<Kva> exit_info;        // struct scx_exit_info *scx_exit_info
  std::optional<Kva> dsq_hash;         // struct rhashtable dsq_hash
  std::optional<Kva> global_dsqs;      // struct scx_dispatch_q **global_dsqs, one per node
  std::optional<Kva> event_stats_cpu;  // DEFINE_PER_CPU(struct scx_event_stats) (6.15)
};

// A sched_class symbol and the short name ktstr reports ("ext", "fair", ...).
struct SchedClassSymbol {
  Kva address;
  std::string short_name;
};

struct ScxContext {
  ScxOffsets off;
  ScxRoots roots;
  ScxLayout layout = ScxLayout::kNone;
  const PerCpuLayout* percpu = nullptr;
  const SymbolIndex* symbols = nullptr;
  std::optional<uint32_t> hz;
  uint32_t nr_nodes = 1;  // nr_node_ids; 1 without CONFIG_NUMA
  std::vector<SchedClassSymbol> sched_classes;
  // scx_enable_state (scx_ops_enable_state before 6.15) enumerators -> "enabled", ...
  std::vector<std::pair<int64_t, std::string>> enable_state_names;
  std::optional<int64_t> disabled_state;  // SCX_DISABLED / SCX_OPS_DISABLED
  // What this kernel's sched_ext has; fixed at attach, copied into every report.
  kfreeze::v1::ScxKernelFeatures features;

  // Short class name for a task's sched_class pointer, if it is a known class.
  std::optional<std::string> SchedClassName(uint64_t class_kva) const;
  std::optional<std::string> EnableStateName(int64_t value) const;
};

// `reader` is used for values fixed at boot (HZ, nr_node_ids).
ScxContext BuildScxContext(const KernelView& kernel, Reader& reader);

}  // namespace kfreeze::walkers::scx
