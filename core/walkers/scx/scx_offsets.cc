// ResolveScxOffsets: one OffsetGroup per kernel struct; the group names are what reasons print.
#include "core/walkers/scx/scx_offsets.h"

#include <utility>

#include <bpf/btf.h>

#include "absl/strings/str_cat.h"
#include "core/walkers/scx/event_counter_fields.h"

namespace kfreeze::walkers::scx {

namespace {

Group<RqOffsets> ResolveRq(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<RqOffsets>(
      r, "rq",
      [](OffsetGroup& g, RqOffsets& o) {
        o.scx = g.Offset("rq.scx");
        o.curr = g.Offset("rq.curr");
        o.nr_running = g.OptionalOffset("rq.nr_running");
      },
      &report);
}

Group<ScxRqOffsets> ResolveScxRq(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<ScxRqOffsets>(
      r, "scx_rq",
      [](OffsetGroup& g, ScxRqOffsets& o) {
        o.local_dsq = g.Offset("scx_rq.local_dsq");
        o.runnable_list = g.Offset("scx_rq.runnable_list");
        o.nr_running = g.Offset("scx_rq.nr_running");
        o.flags = g.Offset("scx_rq.flags");
        o.cpu_released = g.Offset("scx_rq.cpu_released");
        o.ops_qseq = g.OptionalOffset("scx_rq.ops_qseq");
        o.kick_sync = g.OptionalOffset("scx_rq.kick_sync");
        if (!o.kick_sync) o.kick_sync = g.OptionalOffset("scx_rq.pnt_seq");
        o.nr_immed = g.OptionalOffset("scx_rq.nr_immed");
        o.clock = g.OptionalOffset("scx_rq.clock");
        o.bypass_dsq = g.OptionalOffset("scx_rq.bypass_dsq");
      },
      &report);
}

Group<TaskCoreOffsets> ResolveTask(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<TaskCoreOffsets>(
      r, "task_struct",
      [](OffsetGroup& g, TaskCoreOffsets& o) {
        o.pid = g.Offset("task_struct.pid");
        MemberLocation comm = g.Member("task_struct.comm");
        o.comm = comm.ByteOffset();
        o.comm_len = static_cast<uint32_t>(comm.array_len.value_or(16));
        o.scx = g.Offset("task_struct.scx");
        o.sched_class = g.Offset("task_struct.sched_class");
      },
      &report);
}

Group<EntityOffsets> ResolveEntity(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<EntityOffsets>(
      r, "sched_ext_entity",
      [](OffsetGroup& g, EntityOffsets& o) {
        o.dsq = g.Offset("sched_ext_entity.dsq");
        o.dsq_list_node = g.Offset("sched_ext_entity.dsq_list.node");
        o.dsq_list_flags = g.Offset("sched_ext_entity.dsq_list.flags");
        o.runnable_node = g.Offset("sched_ext_entity.runnable_node");
        o.runnable_at = g.Offset("sched_ext_entity.runnable_at");
        o.tasks_node = g.Offset("sched_ext_entity.tasks_node");
        o.flags = g.Offset("sched_ext_entity.flags");
      },
      &report);
}

Group<DsqOffsets> ResolveDsq(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<DsqOffsets>(
      r, "scx_dispatch_q",
      [](OffsetGroup& g, DsqOffsets& o) {
        o.list = g.Offset("scx_dispatch_q.list");
        o.nr = g.Offset("scx_dispatch_q.nr");
        o.seq = g.Offset("scx_dispatch_q.seq");
        o.id = g.Offset("scx_dispatch_q.id");
        o.hash_node = g.Offset("scx_dispatch_q.hash_node");
      },
      &report);
}

Group<OpsOffsets> ResolveOps(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<OpsOffsets>(
      r, "sched_ext_ops",
      [](OffsetGroup& g, OpsOffsets& o) {
        MemberLocation name = g.Member("sched_ext_ops.name");
        o.name = name.ByteOffset();
        o.name_len = static_cast<uint32_t>(name.array_len.value_or(128));
        o.exit_dump_len = g.OptionalOffset("sched_ext_ops.exit_dump_len");
      },
      &report);
}

// Structs that only some kernels have: absent is a layout fact (the walkers use the other
// layout), present but incomplete is a missing group.
bool Has(const OffsetResolver& r, absl::string_view composite) {
  return r.FindComposite(composite).ok();
}

Group<SchedOffsets> ResolveSched(const OffsetResolver& r, OffsetGroupReport& report) {
  if (!Has(r, "scx_sched")) {
    return Group<SchedOffsets>::Missing(absl::NotFoundError("no struct scx_sched (before 6.16)"));
  }
  return ResolveGroup<SchedOffsets>(
      r, "scx_sched",
      [](OffsetGroup& g, SchedOffsets& o) {
        o.ops = g.Offset("scx_sched.ops");
        o.dsq_hash = g.Offset("scx_sched.dsq_hash");
        o.exit_kind = g.Offset("scx_sched.exit_kind");
        o.aborting = g.OptionalOffset("scx_sched.aborting");
        o.bypass_depth = g.OptionalOffset("scx_sched.bypass_depth");
        o.watchdog_timeout = g.OptionalOffset("scx_sched.watchdog_timeout");
        o.exit_info = g.OptionalOffset("scx_sched.exit_info");
        o.pcpu = g.OptionalOffset("scx_sched.pcpu");
        o.pnode = g.OptionalOffset("scx_sched.pnode");
        o.global_dsqs = g.OptionalOffset("scx_sched.global_dsqs");
        o.event_stats_cpu = g.OptionalOffset("scx_sched.event_stats_cpu");
        o.parent = g.OptionalOffset("scx_sched.parent");
        o.level = g.OptionalOffset("scx_sched.level");
      },
      &report);
}

// scx_sched_pcpu (6.18+) and scx_sched_pnode (per-node global DSQs) do not exist on every kernel;
// their absence is a layout fact, not a missing group.
Group<SchedPcpuOffsets> ResolveSchedPcpu(const OffsetResolver& r, OffsetGroupReport& report) {
  if (!Has(r, "scx_sched_pcpu")) {
    return Group<SchedPcpuOffsets>::Missing(absl::NotFoundError("no struct scx_sched_pcpu"));
  }
  return ResolveGroup<SchedPcpuOffsets>(
      r, "scx_sched_pcpu",
      [](OffsetGroup& g, SchedPcpuOffsets& o) {
        o.bypass_dsq = g.OptionalOffset("scx_sched_pcpu.bypass_dsq");
        o.event_stats = g.OptionalOffset("scx_sched_pcpu.event_stats");
      },
      &report);
}

Group<SchedPnodeOffsets> ResolveSchedPnode(const OffsetResolver& r, OffsetGroupReport& report) {
  if (!Has(r, "scx_sched_pnode")) {
    return Group<SchedPnodeOffsets>::Missing(absl::NotFoundError("no struct scx_sched_pnode"));
  }
  return ResolveGroup<SchedPnodeOffsets>(
      r, "scx_sched_pnode",
      [](OffsetGroup& g, SchedPnodeOffsets& o) {
        o.global_dsq = g.Offset("scx_sched_pnode.global_dsq");
      },
      &report);
}

Group<ExitInfoOffsets> ResolveExitInfo(const OffsetResolver& r, OffsetGroupReport& report) {
  return ResolveGroup<ExitInfoOffsets>(
      r, "scx_exit_info",
      [](OffsetGroup& g, ExitInfoOffsets& o) {
        o.kind = g.Offset("scx_exit_info.kind");
        o.exit_code = g.Offset("scx_exit_info.exit_code");
        o.reason = g.Offset("scx_exit_info.reason");
        o.msg = g.Offset("scx_exit_info.msg");
        o.dump = g.Offset("scx_exit_info.dump");
        o.bt = g.Offset("scx_exit_info.bt");
        o.bt_len = g.Offset("scx_exit_info.bt_len");
        o.flags = g.OptionalOffset("scx_exit_info.flags");
      },
      &report);
}

// The counters are whatever SCX_EV_* members the kernel's struct has, not a list of ours.
Group<EventStatsOffsets> ResolveEventStats(const OffsetResolver& r, OffsetGroupReport& report) {
  absl::StatusOr<uint32_t> id = r.FindComposite("scx_event_stats");
  if (!id.ok()) {
    return Group<EventStatsOffsets>::Missing(
        absl::NotFoundError("no struct scx_event_stats (before 6.15)"));
  }
  OffsetGroup g(r, "scx_event_stats");
  Group<EventStatsOffsets> out;
  const struct btf_type* t = btf__type_by_id(r.btf(), *id);
  const struct btf_member* m = btf_members(t);
  for (uint32_t i = 0; i < btf_vlen(t); ++i) {
    const char* name = btf__name_by_offset(r.btf(), m[i].name_off);
    const google::protobuf::FieldDescriptor* field =
        name != nullptr ? EventCounterField(name) : nullptr;
    if (field == nullptr) continue;  // not a counter the report carries
    const MemberLocation loc = g.Member(absl::StrCat("scx_event_stats.", name));
    if (loc.byte_size != 8 || loc.bitfield_bits != 0) continue;
    out->counters.push_back({field, loc.ByteOffset()});
  }
  out.status = g.status();
  if (out.status.ok() && out->counters.empty()) {
    out.status = absl::NotFoundError(
        "offset group 'scx_event_stats': no SCX_EV_* member the report has a field for");
  }
  report.Add(g.name(), out.status);
  return out;
}

// Enumerators keep their documented defaults when absent (older kernels lack some of them).
ScxConstants ResolveConstants(const OffsetResolver& r) {
  ScxConstants c;
  auto set = [&r](const char* name, uint32_t& out) {
    if (absl::StatusOr<int64_t> v = r.EnumValue(name); v.ok()) out = static_cast<uint32_t>(*v);
  };
  set("SCX_DSQ_LNODE_ITER_CURSOR", c.lnode_iter_cursor);
  set("SCX_TASK_CURSOR", c.task_cursor);
  set("SCX_EXIT_ERROR", c.exit_error);
  set("SCX_TASK_STATE_SHIFT", c.task_state_shift);
  set("SCX_TASK_STATE_MASK", c.task_state_mask);
  set("SCX_OPSS_QSEQ_SHIFT", c.opss_qseq_shift);
  return c;
}

}  // namespace

ScxOffsets ResolveScxOffsets(const OffsetResolver& resolver) {
  ScxOffsets o;
  o.rq = ResolveRq(resolver, o.report);
  o.scx_rq = ResolveScxRq(resolver, o.report);
  o.task = ResolveTask(resolver, o.report);
  o.entity = ResolveEntity(resolver, o.report);
  o.dsq = ResolveDsq(resolver, o.report);
  o.ops = ResolveOps(resolver, o.report);
  o.sched = ResolveSched(resolver, o.report);
  o.sched_pcpu = ResolveSchedPcpu(resolver, o.report);
  o.sched_pnode = ResolveSchedPnode(resolver, o.report);
  o.exit_info = ResolveExitInfo(resolver, o.report);
  o.event_stats = ResolveEventStats(resolver, o.report);
  o.rhashtable = ds::ResolveRhashtableOffsets(resolver, &o.report);
  o.constants = ResolveConstants(resolver);
  return o;
}

}  // namespace kfreeze::walkers::scx
