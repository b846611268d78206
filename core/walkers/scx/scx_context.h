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

namespace kfreeze::walkers::scx {

// How this kernel roots its scheduler state. Only kScxRoot is walked; kScxOpsGlobals (6.12-6.15:
// `scx_ops`, `scx_exit_info`, `scx_dsq_hash`, `global_dsqs` as globals) is detected so its reader
// can be added beside ReadSchedKva without touching the rest.
enum class ScxLayout : uint8_t { kNone, kScxRoot, kScxOpsGlobals };

struct ScxRoots {
  std::optional<Kva> scx_root;          // struct scx_sched __rcu *
  std::optional<Kva> scx_tasks;         // LIST_HEAD of every sched_ext-managed task
  std::optional<Kva> runqueues;         // per-CPU struct rq template
  std::optional<Kva> jiffies;           // jiffies_64
  std::optional<Kva> enable_state;      // atomic_t scx_enable_state_var
  std::optional<Kva> enable_seq;        // atomic_long_t scx_enable_seq
  std::optional<Kva> watchdog_timeout;  // global before it moved into scx_sched
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
  // scx_enable_state enumerators -> "enabled", "disabling", ...
  std::vector<std::pair<int64_t, std::string>> enable_state_names;

  // Short class name for a task's sched_class pointer, if it is a known class.
  std::optional<std::string> SchedClassName(uint64_t class_kva) const;
  std::optional<std::string> EnableStateName(int64_t value) const;
};

// `reader` is used for values fixed at boot (HZ, nr_node_ids).
ScxContext BuildScxContext(const KernelView& kernel, Reader& reader);

}  // namespace kfreeze::walkers::scx
