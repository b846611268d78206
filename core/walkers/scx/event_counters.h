// struct scx_event_stats (kernel/sched/ext_internal.h): per-CPU SCX_EV_* counters, summed over
// the possible CPUs the way scx_read_events() does. 6.18+ keeps them in scx_sched.pcpu
// (struct scx_sched_pcpu.event_stats); 6.16-6.17 in scx_sched.event_stats_cpu.
#pragma once

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// Sums every counter this kernel has; counters it lacks stay 0. Fails when no per-CPU stats
// location is known or no CPU could be read. elapsed_ms is left for the caller.
absl::StatusOr<kfreeze::v1::EventCounterSample> SumEventCounters(Reader& reader,
                                                                 const ScxContext& ctx, Kva sched);

}  // namespace kfreeze::walkers::scx
