// What the tasks phase hands the stacks phase (ctx.outputs()): every recorded task's stack base
// and whether it was running, so stacks are copied for exactly the tasks the report lists.
#pragma once

#include <cstdint>
#include <vector>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::tasks {

struct TaskStackRef {
  uint64_t task_kva = 0;
  uint64_t stack_base = 0;  // task->stack
  bool running = false;     // rq->curr of its CPU
  uint32_t cpu = 0;
};

struct TaskStackRefs {
  std::vector<TaskStackRef> tasks;
};

// From the task records a tasks walk just wrote (those with a task_kva and a stack base).
TaskStackRefs StackRefsOf(const kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::tasks
