// The kernel walkers as dump phases ("scx", "tasks", ...) and as the daemon's trigger probes,
// built once per attach from a KernelContext (which they keep alive).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dump/dump_phase.h"
#include "core/dump/trigger_probes.h"
#include "core/kernel/kernel_context.h"
#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers {

using KernelPtr = std::shared_ptr<const KernelContext>;

struct WalkerOptions {
  std::string psi_root = "/";  // cgroup v2 subtree whose PSI is listed
};

// In run order: "scx" (scx_sched_state, rq_scx_states, dsq_states), "tasks" (needs "scx": the
// task KVAs its walk met, scx::ScxTaskRefs), "stacks" (needs "tasks": every task's kernel stack,
// decoded after the resume), "prog_stats" (+ active scheduler), "per_cpu_time", "psi", "numa".
dump::PhaseTable KernelWalkerPhases(const KernelPtr& kernel, const WalkerOptions& options = {});

// What the walkers read a kernel through, when it is not a KernelContext (synthetic guests).
struct WalkerSource {
  KernelView view;                     // its referents must live as long as `owner`
  std::function<Reader()> new_reader;  // one Reader per phase run
  std::shared_ptr<const void> owner;   // kept alive by the phases; may be null
  uint64_t pac_mask = 0;               // arm64 NUMBER(KERNELPACMASK)
};
// The same table over `source`.
dump::PhaseTable KernelWalkerPhases(const WalkerSource& source, const WalkerOptions& options = {});

// The kernel's sched_ext layout, as the scx walker detects it (from BTF and symbols); nullopt
// when the kernel has no BTF offsets.
std::optional<kfreeze::v1::ScxKernelFeatures> DescribeScxKernel(const KernelPtr& kernel);

// Trigger probes (exit kind, runnable_at ages) plus the event-counter sampler.
class ScxTriggerProbes : public dump::TriggerProbes {};

// Null when the kernel has no BTF (nothing can be probed); probes on a kernel without sched_ext
// answer FailedPrecondition.
std::unique_ptr<ScxTriggerProbes> MakeScxTriggerProbes(const KernelPtr& kernel);

}  // namespace kfreeze::walkers
