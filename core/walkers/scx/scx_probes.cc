#include "core/walkers/scx/scx_probes.h"

#include <algorithm>

#include "core/base/status.h"
#include "core/ds/list.h"
#include "core/walkers/scx/event_counters.h"
#include "core/walkers/scx/rq_state.h"
#include "core/walkers/scx/sched_location.h"
#include "core/walkers/scx/sched_state.h"

namespace kfreeze::walkers::scx {

absl::StatusOr<ExitProbeResult> ProbeExitKind(Reader& reader, const ScxContext& ctx) {
  KF_ASSIGN_OR_RETURN(std::optional<SchedLocation> sched, LocateSched(reader, ctx));
  ExitProbeResult out;
  if (!sched) return out;
  out.attached = true;
  out.sched_kva = sched->id.value;
  out.exit_kind_kva = sched->exit_kind.value;
  KF_ASSIGN_OR_RETURN(ExitKind kind, ReadExitKind(reader, ctx, *sched));
  out.exit_kind = kind.effective;
  if (out.exit_kind >= ctx.off.constants.exit_error && sched->exit_info_ptr && ctx.off.exit_info) {
    absl::StatusOr<Kva> ei = reader.ReadPtr(*sched->exit_info_ptr);
    absl::StatusOr<uint32_t> written = ei.ok() && !ei->IsNull()
                                           ? reader.ReadU32(*ei + ctx.off.exit_info->kind)
                                           : absl::StatusOr<uint32_t>(0u);
    out.exit_info_written = written.ok() && *written == out.exit_kind;
  }
  return out;
}

absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfoOf(Reader& reader, const ScxContext& ctx,
                                                        uint64_t sched_kva) {
  KF_ASSIGN_OR_RETURN(std::optional<SchedLocation> sched, LocateSched(reader, ctx));
  std::optional<Kva> exit_info_ptr;
  Kva ops;
  if (sched && sched->id.value == sched_kva) {
    exit_info_ptr = sched->exit_info_ptr;
    ops = sched->ops;
  } else if (ctx.layout == ScxLayout::kScxRoot && ctx.off.sched && ctx.off.sched->exit_info) {
    // Detached already (the disable work ran): the object outlives scx_root by an RCU grace
    // period and a kobject release; a reused one fails the caller's kind check.
    exit_info_ptr = Kva(sched_kva) + *ctx.off.sched->exit_info;
    ops = Kva(sched_kva) + ctx.off.sched->ops;
  } else {
    return absl::FailedPreconditionError("the scheduler detached before its exit info was read");
  }
  if (!exit_info_ptr) return absl::FailedPreconditionError("no exit_info pointer");
  KF_ASSIGN_OR_RETURN(Kva ei, reader.ReadPtr(*exit_info_ptr));
  if (ei.IsNull()) return absl::FailedPreconditionError("exit_info is NULL");
  uint64_t dump_len = 0;
  if (ctx.off.ops && ctx.off.ops->exit_dump_len) {
    dump_len = reader.ReadU32(ops + *ctx.off.ops->exit_dump_len).value_or(0);
  }
  return ReadExitInfo(reader, ctx, ei, dump_len);
}

absl::StatusOr<RunnableAgeResult> ScanRunnableAges(Reader& reader, const ScxContext& ctx) {
  if (!ctx.off.rq || !ctx.off.scx_rq || !ctx.off.task || !ctx.off.entity) {
    return absl::FailedPreconditionError("missing offset groups for rq->scx.runnable_list");
  }
  if (!ctx.roots.runqueues || ctx.percpu == nullptr) {
    return absl::FailedPreconditionError("no runqueues symbol");
  }
  RunnableAgeResult out;
  KF_ASSIGN_OR_RETURN(out.jiffies, ReadJiffies(reader, ctx));
  out.hz = ctx.hz.value_or(0);
  if (absl::StatusOr<std::optional<SchedLocation>> sched = LocateSched(reader, ctx);
      sched.ok() && *sched && (*sched)->watchdog_timeout) {
    out.watchdog_timeout_jiffies = reader.ReadU64(*(*sched)->watchdog_timeout).value_or(0);
  }
  const uint64_t node_to_runnable_at = ctx.off.entity->runnable_at - ctx.off.entity->runnable_node;
  for (CpuId cpu : ctx.percpu->PossibleCpus()) {
    KF_ASSIGN_OR_RETURN(Kva rq, RqAddress(ctx, cpu));
    ds::ListWalk walk = ds::ListForEach(
        reader, rq + ctx.off.rq->scx + ctx.off.scx_rq->runnable_list, kMaxNodesPerList);
    for (Kva node : walk.nodes) {
      absl::StatusOr<uint64_t> at = reader.ReadU64(node + node_to_runnable_at);
      if (!at.ok()) continue;
      ++out.tasks_scanned;
      // time_after() semantics: a runnable_at in the future (a torn read) is age 0.
      const int64_t age = static_cast<int64_t>(out.jiffies - *at);
      if (age > 0) out.max_age_jiffies = std::max<uint64_t>(out.max_age_jiffies, age);
    }
  }
  return out;
}

absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters(Reader& reader,
                                                                    const ScxContext& ctx) {
  KF_ASSIGN_OR_RETURN(std::optional<SchedLocation> sched, LocateSched(reader, ctx));
  if (!sched) return absl::FailedPreconditionError("no scheduler attached");
  return SumEventCounters(reader, ctx, *sched);
}

}  // namespace kfreeze::walkers::scx
