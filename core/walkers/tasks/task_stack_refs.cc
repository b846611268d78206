#include "core/walkers/tasks/task_stack_refs.h"

namespace kfreeze::walkers::tasks {

TaskStackRefs StackRefsOf(const kfreeze::v1::FailureDumpReport& report) {
  TaskStackRefs refs;
  refs.tasks.reserve(static_cast<size_t>(report.task_enrichments_size()));
  for (const kfreeze::v1::TaskEnrichment& t : report.task_enrichments()) {
    if (!t.has_task_kva() || !t.has_stack_base() || t.stack_base() == 0) continue;
    refs.tasks.push_back({t.task_kva(), t.stack_base(), t.is_running(), t.cpu()});
  }
  return refs;
}

}  // namespace kfreeze::walkers::tasks
