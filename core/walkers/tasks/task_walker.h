// Task records (TaskEnrichment) keyed by task_struct KVA. Sources, in priority order: tasks the
// scx walker already referenced (rq->curr, runnable lists, DSQs — so every KVA in rq_scx_states
// and dsq_states joins to a record), then every task on scx_tasks. Runs after CaptureScx.
#pragma once

#include <cstddef>

#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "core/walkers/tasks/task_offsets.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::tasks {

// MAX_ENRICHED_TASKS in the seed: enough for a test guest's every task; a big host reports the
// cut in task_enrichments_unavailable.
inline constexpr size_t kMaxTasks = 4096;
// scx_tasks nodes visited (cursors included) before giving up on a corrupt list.
inline constexpr size_t kMaxScxTasksNodes = 65536;

// Prefix of the reason when the task set is incomplete (kfreeze addition).
inline constexpr std::string_view kReasonTasksTruncatedPrefix = "task walker truncated: ";

struct TaskContext {
  const scx::ScxContext* scx = nullptr;
  TaskOffsets off;
};

TaskContext BuildTaskContext(const OffsetResolver& resolver, const scx::ScxContext& scx);

// Fills task_enrichments (and task_enrichments_unavailable when incomplete) from the report's
// rq/DSQ task KVAs and scx_tasks. Each running task keeps its stack_base for
// dump::PairRunningTasks.
void CaptureTasks(Reader& reader, const TaskContext& ctx, kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::tasks
