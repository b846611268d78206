// The kernel walkers as dump phases ("scx", "tasks", ...) and as the daemon's trigger probes,
// built once per attach from a KernelContext (which they keep alive).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dump/dump_phase.h"
#include "core/dump/trigger_probes.h"
#include "core/kernel/kernel_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers {

using KernelPtr = std::shared_ptr<const KernelContext>;

struct WalkerOptions {
  std::string psi_root = "/";  // cgroup v2 subtree whose PSI is listed
};

// In run order: "scx" (scx_sched_state, rq_scx_states, dsq_states), "tasks" (reads the task
// KVAs "scx" put in the report), "prog_stats" (+ active scheduler), "per_cpu_time", "psi",
// "numa".
std::vector<std::shared_ptr<dump::DumpPhase>> KernelWalkerPhases(const KernelPtr& kernel,
                                                                 const WalkerOptions& options = {});

// Trigger probes (exit kind, runnable_at ages) plus the event-counter sampler.
class ScxTriggerProbes : public dump::TriggerProbes {};

// Null when the kernel has no BTF (nothing can be probed); probes on a kernel without sched_ext
// answer FailedPrecondition.
std::unique_ptr<ScxTriggerProbes> MakeScxTriggerProbes(const KernelPtr& kernel);

}  // namespace kfreeze::walkers
