#include "core/walkers/scx/rq_state.h"

#include "core/base/guest_text.h"
#include "core/base/status.h"
#include "core/ds/list.h"

namespace kfreeze::walkers::scx {

absl::StatusOr<Kva> RqAddress(const ScxContext& ctx, CpuId cpu) {
  if (!ctx.roots.runqueues || ctx.percpu == nullptr) {
    return absl::NotFoundError("no runqueues symbol");
  }
  return ctx.percpu->PerCpuPtr(*ctx.roots.runqueues, cpu);
}

absl::StatusOr<kfreeze::v1::RqScxState> ReadRqScx(Reader& reader, const ScxContext& ctx,
                                                  CpuId cpu) {
  if (!ctx.off.rq || !ctx.off.scx_rq) return absl::FailedPreconditionError("no rq/scx_rq offsets");
  const RqOffsets& ro = *ctx.off.rq;
  const ScxRqOffsets& so = *ctx.off.scx_rq;
  KF_ASSIGN_OR_RETURN(Kva rq, RqAddress(ctx, cpu));
  const Kva scx = rq + ro.scx;

  kfreeze::v1::RqScxState out;
  out.set_cpu(cpu);
  KF_ASSIGN_OR_RETURN(uint32_t nr_running, reader.ReadU32(scx + so.nr_running));
  KF_ASSIGN_OR_RETURN(uint32_t flags, reader.ReadU32(scx + so.flags));
  KF_ASSIGN_OR_RETURN(uint8_t released, reader.ReadU8(scx + so.cpu_released));
  out.set_nr_running(nr_running);
  out.set_flags(flags);
  out.set_cpu_released(released != 0);
  if (so.ops_qseq) out.set_ops_qseq(reader.ReadU64(scx + *so.ops_qseq).value_or(0));
  if (so.kick_sync) {
    if (auto v = reader.ReadU64(scx + *so.kick_sync); v.ok()) out.set_kick_sync(*v);
  }
  if (so.nr_immed) {
    if (auto v = reader.ReadU32(scx + *so.nr_immed); v.ok()) out.set_nr_immed(*v);
  }
  if (so.clock) {
    if (auto v = reader.ReadU64(scx + *so.clock); v.ok()) out.set_rq_clock(*v);
  }
  if (ro.nr_running) {
    if (auto v = reader.ReadU32(rq + *ro.nr_running); v.ok()) out.set_rq_nr_running(*v);
  }

  if (ctx.off.task) {
    const TaskCoreOffsets& to = *ctx.off.task;
    absl::StatusOr<Kva> curr = reader.ReadPtr(rq + ro.curr);
    if (curr.ok() && !curr->IsNull()) {
      out.set_curr_task_kva(curr->value);
      if (auto pid = reader.ReadS32(*curr + to.pid); pid.ok()) out.set_curr_pid(*pid);
      if (auto comm = reader.ReadCharArray(*curr + to.comm, to.comm_len); comm.ok()) {
        out.set_curr_comm(GuestText(*comm));
      }
      if (auto cls = reader.ReadU64(*curr + to.sched_class); cls.ok()) {
        if (auto name = ctx.SchedClassName(*cls)) out.set_curr_sched_class(*name);
      }
    }
  }

  if (ctx.off.task && ctx.off.entity) {
    const uint64_t node_in_task = ctx.off.task->scx + ctx.off.entity->runnable_node;
    ds::ListWalk walk = ds::ListForEach(reader, scx + so.runnable_list, kMaxNodesPerList);
    for (Kva node : walk.nodes)
      out.add_runnable_task_kvas(ds::ContainerOf(node, node_in_task).value);
    out.set_runnable_truncated(!walk.complete());
  } else {
    out.set_runnable_truncated(true);  // the list exists but we cannot map nodes to tasks
  }
  return out;
}

}  // namespace kfreeze::walkers::scx
