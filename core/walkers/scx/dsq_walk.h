// Dispatch queues (struct scx_dispatch_q): each CPU's local DSQ (rq->scx.local_dsq), the
// scheduler's per-CPU bypass DSQs, per-node global DSQs and every user DSQ in its dsq_hash.
// Task order is the queue's list order; BPF iterator cursors on the list are skipped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/sched_location.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

struct DsqRef {
  Kva dsq;
  std::string origin;  // "local cpu N" | "bypass cpu N" | "global node N" | "user"
};

// One DSQ. `jiffies` (when known) fills oldest_runnable_age_jiffies from the tasks' runnable_at.
absl::StatusOr<kfreeze::v1::DsqState> WalkDsq(Reader& reader, const ScxContext& ctx,
                                              const DsqRef& ref, std::optional<uint64_t> jiffies);

struct DsqRefs {
  std::vector<DsqRef> refs;
  std::vector<std::string> problems;  // roots that could not be read, with the reason
  bool user_truncated = false;        // dsq_hash walk hit a cap or a bad chain
};

// Local DSQs need only the per-CPU rq; they are listed even without a scheduler.
DsqRefs LocalDsqs(const ScxContext& ctx);
// Bypass, global and user DSQs of the attached scheduler.
DsqRefs SchedDsqs(Reader& reader, const ScxContext& ctx, const SchedLocation& sched);

}  // namespace kfreeze::walkers::scx
