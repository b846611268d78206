// Task records (TaskEnrichment) keyed by task_struct KVA. Sources, in priority order: tasks the
// scx walk met (scx::ScxTaskRefs from CaptureScx: rq->curr, runnable lists, DSQs — so every KVA
// in rq_scx_states and dsq_states joins to a record), then every task on scx_tasks.
#pragma once

#include <cstddef>

#include "core/base/reasons.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "core/walkers/scx/task_refs.h"
#include "core/walkers/tasks/task_offsets.h"
#include "core/walkers/tasks/task_stack_refs.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::tasks {

// ktstr's MAX_ENRICHED_TASKS: enough for a test guest's every task; a big host reports the
// cut in task_enrichments_unavailable.
inline constexpr size_t kMaxTasks = 4096;
// scx_tasks nodes visited (cursors included) before giving up on a corrupt list.
inline constexpr size_t kMaxScxTasksNodes = 65536;

struct TaskContext {
  const scx::ScxContext* scx = nullptr;
  TaskOffsets off;
};

TaskContext BuildTaskContext(const OffsetResolver& resolver, const scx::ScxContext& scx);

// Fills task_enrichments (and task_enrichments_unavailable when incomplete) from `refs` (empty
// when the scx walk produced none) and scx_tasks. Each running task keeps its stack_base for
// dump::PairRunningTasks. Returns the stacks of the tasks read, for the stacks phase. A copying
// reader (the copy stage) reads every task but builds no record: the decode stage does.
TaskStackRefs CaptureTasks(Reader& reader, const TaskContext& ctx, const scx::ScxTaskRefs& refs,
                           kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::tasks
