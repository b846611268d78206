// struct scx_event_stats (kernel/sched/ext_internal.h): per-CPU SCX_EV_* counters, summed over
// the possible CPUs the way scx_read_events() does. 6.18+ keeps them in scx_sched.pcpu
// (struct scx_sched_pcpu.event_stats); 6.16-6.17 in scx_sched.event_stats_cpu; 6.15 in the
// per-CPU global event_stats_cpu; older kernels have none.
#pragma once

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/sched_location.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// Sums every counter this kernel has; counters it lacks read 0 (the report's scx_features lists
// them as absent). Fails when no per-CPU stats location is known or no CPU could be read.
// elapsed_ms is left for the caller.
absl::StatusOr<kfreeze::v1::EventCounterSample> SumEventCounters(Reader& reader,
                                                                 const ScxContext& ctx,
                                                                 const SchedLocation& sched);

}  // namespace kfreeze::walkers::scx
