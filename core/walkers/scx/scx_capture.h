// The sched_ext section of a dump: scx_sched_state (with exit info and event counters),
// rq_scx_states (one per possible CPU), dsq_states, and scx_walker_unavailable, whose reason
// follows core/base/reasons.h precedence: missing offset groups > scx_root NULL > no state.
// Read failures that leave the section incomplete are reported after those, with detail.
#pragma once

#include "core/base/reasons.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "core/walkers/scx/task_refs.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// Fills the section and returns the tasks it met, for the tasks walker (CaptureTasks).
ScxTaskRefs CaptureScx(Reader& reader, const ScxContext& ctx,
                       kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::scx
