#include "core/walkers/tasks/task_offsets.h"

namespace kfreeze::walkers::tasks {
namespace {

Group<TaskDetailOffsets> ResolveDetail(const OffsetResolver& r, OffsetGroupReport& rep) {
  return ResolveGroup<TaskDetailOffsets>(
      r, "task_detail",
      [](OffsetGroup& g, TaskDetailOffsets& o) {
        std::optional<uint64_t> state = g.OptionalOffset("task_struct.__state");
        o.state = state ? *state : g.Offset("task_struct.state");
        o.exit_state = g.Offset("task_struct.exit_state");
        o.tgid = g.Offset("task_struct.tgid");
        o.prio = g.Offset("task_struct.prio");
        o.static_prio = g.Offset("task_struct.static_prio");
        o.normal_prio = g.Offset("task_struct.normal_prio");
        o.rt_priority = g.Offset("task_struct.rt_priority");
        o.policy = g.Offset("task_struct.policy");
        o.real_parent = g.Offset("task_struct.real_parent");
        o.group_leader = g.Offset("task_struct.group_leader");
        o.signal = g.Offset("task_struct.signal");
        o.nvcsw = g.Offset("task_struct.nvcsw");
        o.nivcsw = g.Offset("task_struct.nivcsw");
        std::optional<uint64_t> cpu = g.OptionalOffset("task_struct.thread_info.cpu");
        o.cpu = cpu ? *cpu : g.Offset("task_struct.cpu");
        o.cpus_ptr = g.OptionalOffset("task_struct.cpus_ptr");
        o.migration_disabled = g.OptionalOffset("task_struct.migration_disabled");
        o.core_cookie = g.OptionalOffset("task_struct.core_cookie");
        o.stack = g.OptionalOffset("task_struct.stack");
      },
      &rep);
}

Group<SignalOffsets> ResolveSignal(const OffsetResolver& r, OffsetGroupReport& rep) {
  return ResolveGroup<SignalOffsets>(
      r, "signal_struct",
      [&r](OffsetGroup& g, SignalOffsets& o) {
        o.nr_threads = g.Offset("signal_struct.nr_threads");
        o.pids = g.Offset("signal_struct.pids");
        o.nvcsw = g.Offset("signal_struct.nvcsw");
        o.nivcsw = g.Offset("signal_struct.nivcsw");
        o.pid_numbers = g.Offset("pid.numbers");
        o.upid_nr = g.Offset("upid.nr");
        if (absl::StatusOr<int64_t> v = r.EnumValue("PIDTYPE_PGID"); v.ok()) o.pidtype_pgid = *v;
        if (absl::StatusOr<int64_t> v = r.EnumValue("PIDTYPE_SID"); v.ok()) o.pidtype_sid = *v;
      },
      &rep);
}

Group<EntityDetailOffsets> ResolveEntity(const OffsetResolver& r, OffsetGroupReport& rep) {
  return ResolveGroup<EntityDetailOffsets>(
      r, "sched_ext_entity_detail",
      [](OffsetGroup& g, EntityDetailOffsets& o) {
        o.weight = g.Offset("sched_ext_entity.weight");
        o.slice = g.Offset("sched_ext_entity.slice");
        o.dsq_vtime = g.Offset("sched_ext_entity.dsq_vtime");
        o.sticky_cpu = g.Offset("sched_ext_entity.sticky_cpu");
        o.holding_cpu = g.Offset("sched_ext_entity.holding_cpu");
        o.dsq_flags = g.Offset("sched_ext_entity.dsq_flags");
        o.ops_state = g.Offset("sched_ext_entity.ops_state");
      },
      &rep);
}

}  // namespace

TaskOffsets ResolveTaskOffsets(const OffsetResolver& resolver) {
  TaskOffsets o;
  o.detail = ResolveDetail(resolver, o.report);
  o.signal = ResolveSignal(resolver, o.report);
  o.entity = ResolveEntity(resolver, o.report);
  return o;
}

}  // namespace kfreeze::walkers::tasks
