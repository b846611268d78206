// What the tasks phase hands the stacks phase (ctx.outputs()): every recorded task's stack base
// and whether it was running, so stacks are copied for exactly the tasks the walk read.
#pragma once

#include <cstdint>
#include <vector>

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

}  // namespace kfreeze::walkers::tasks
