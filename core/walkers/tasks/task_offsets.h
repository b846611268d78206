// task_struct, signal_struct and struct pid members for task records (include/linux/sched.h,
// include/linux/sched/signal.h, include/linux/pid.h). The identity members (pid, comm, scx,
// sched_class) come from the scx walker's "task_struct" group.
#pragma once

#include <cstdint>
#include <optional>

#include "core/btf/offset_resolver.h"

namespace kfreeze::walkers::tasks {

// Group "task_detail".
struct TaskDetailOffsets {
  uint64_t state = 0;  // __state (renamed from `state` in 5.14)
  uint64_t exit_state = 0;
  uint64_t tgid = 0;
  uint64_t prio = 0, static_prio = 0, normal_prio = 0, rt_priority = 0;
  uint64_t policy = 0;
  uint64_t real_parent = 0, group_leader = 0, signal = 0;
  uint64_t nvcsw = 0, nivcsw = 0;
  uint64_t cpu = 0;  // thread_info.cpu (THREAD_INFO_IN_TASK) or task_struct.cpu
  std::optional<uint64_t> cpus_ptr;
  std::optional<uint64_t> migration_disabled;  // u16, SMP only
  std::optional<uint64_t> core_cookie;         // CONFIG_SCHED_CORE
  std::optional<uint64_t> stack;               // kernel stack base, pairs vCPU SPs to tasks
};

// Group "signal_struct" (+ struct pid / upid for pgid and sid).
struct SignalOffsets {
  uint64_t nr_threads = 0;
  uint64_t pids = 0;  // struct pid *pids[PIDTYPE_MAX]
  uint64_t nvcsw = 0, nivcsw = 0;
  uint64_t pid_numbers = 0;  // pid.numbers[0]
  uint64_t upid_nr = 0;
  int64_t pidtype_pgid = 2, pidtype_sid = 3;
};

// Group "sched_ext_entity_detail": per-task scheduler fields the kernel's dump prints.
struct EntityDetailOffsets {
  uint64_t weight = 0, slice = 0, dsq_vtime = 0;
  uint64_t sticky_cpu = 0, holding_cpu = 0, dsq_flags = 0;
  uint64_t ops_state = 0;  // atomic_long_t
};

struct TaskOffsets {
  Group<TaskDetailOffsets> detail;
  Group<SignalOffsets> signal;
  Group<EntityDetailOffsets> entity;
  OffsetGroupReport report;
};

TaskOffsets ResolveTaskOffsets(const OffsetResolver& resolver);

}  // namespace kfreeze::walkers::tasks
