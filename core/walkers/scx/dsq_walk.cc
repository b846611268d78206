#include "core/walkers/scx/dsq_walk.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/ds/list.h"
#include "core/ds/rhashtable.h"
#include "core/walkers/scx/rq_state.h"

namespace kfreeze::walkers::scx {
namespace {

void Problem(DsqRefs& out, absl::string_view what, const absl::Status& s) {
  out.problems.push_back(absl::StrCat(what, ": ", s.message()));
}

}  // namespace

absl::StatusOr<kfreeze::v1::DsqState> WalkDsq(Reader& reader, const ScxContext& ctx,
                                              const DsqRef& ref, std::optional<uint64_t> jiffies) {
  if (!ctx.off.dsq) return absl::FailedPreconditionError("no scx_dispatch_q offsets");
  // A NULL DSQ pointer would make every offset below alias low memory.
  if (ref.dsq.IsNull()) return BadData(absl::StrCat(ref.origin, ": NULL DSQ"));
  const DsqOffsets& o = *ctx.off.dsq;
  kfreeze::v1::DsqState out;
  out.set_origin(ref.origin);
  out.set_dsq_kva(ref.dsq.value);
  KF_ASSIGN_OR_RETURN(uint64_t id, reader.ReadU64(ref.dsq + o.id));
  KF_ASSIGN_OR_RETURN(uint32_t nr, reader.ReadU32(ref.dsq + o.nr));
  KF_ASSIGN_OR_RETURN(uint32_t seq, reader.ReadU32(ref.dsq + o.seq));
  out.set_id(id);
  out.set_nr(nr);
  out.set_seq(seq);
  if (!ctx.off.task || !ctx.off.entity) {
    out.set_truncated(true);
    return out;
  }
  const EntityOffsets& eo = *ctx.off.entity;
  const uint64_t entity_in_task = ctx.off.task->scx;
  ds::ListWalk walk = ds::ListForEach(reader, ref.dsq + o.list, kMaxNodesPerList);
  bool unreadable = false;
  std::optional<uint64_t> oldest;
  for (Kva node : walk.nodes) {
    const Kva entity = ds::ContainerOf(node, eo.dsq_list_node);
    absl::StatusOr<uint32_t> flags = reader.ReadU32(entity + eo.dsq_list_flags);
    if (!flags.ok()) {
      unreadable = true;
      continue;
    }
    if (*flags & ctx.off.constants.lnode_iter_cursor) continue;  // a BPF iterator's cursor
    const Kva task = ds::ContainerOf(entity, entity_in_task);
    out.add_task_kvas(task.value);
    if (jiffies) {
      if (absl::StatusOr<uint64_t> at = reader.ReadU64(entity + eo.runnable_at);
          at.ok() && *at <= *jiffies) {
        oldest = std::max(oldest.value_or(0), *jiffies - *at);
      }
    }
  }
  if (oldest) out.set_oldest_runnable_age_jiffies(*oldest);
  out.set_truncated(!walk.complete() || unreadable);
  return out;
}

DsqRefs LocalDsqs(const ScxContext& ctx) {
  DsqRefs out;
  if (!ctx.off.rq || !ctx.off.scx_rq || ctx.percpu == nullptr) return out;
  for (CpuId cpu : ctx.percpu->PossibleCpus()) {
    absl::StatusOr<Kva> rq = RqAddress(ctx, cpu);
    if (!rq.ok()) {
      Problem(out, absl::StrCat("rq of cpu ", cpu), rq.status());
      continue;
    }
    const Kva scx = *rq + ctx.off.rq->scx;
    out.refs.push_back({scx + ctx.off.scx_rq->local_dsq, absl::StrCat("local cpu ", cpu)});
    // 6.19-7.0 keep the bypass DSQ in scx_rq (7.1 moved it to scx_sched_pcpu).
    if (ctx.off.scx_rq->bypass_dsq) {
      out.refs.push_back({scx + *ctx.off.scx_rq->bypass_dsq, absl::StrCat("bypass cpu ", cpu)});
    }
  }
  return out;
}

namespace {

void BypassDsqs(Reader& reader, const ScxContext& ctx, const SchedLocation& sched, DsqRefs& out) {
  if (!sched.bypass_dsq) return;
  absl::StatusOr<Kva> tmpl = PerCpuTemplate(reader, *sched.bypass_dsq);
  if (!tmpl.ok()) return Problem(out, "bypass DSQs", tmpl.status());
  for (CpuId cpu : ctx.percpu->PossibleCpus()) {
    absl::StatusOr<Kva> at = ctx.percpu->PerCpuPtr(*tmpl, cpu);
    if (!at.ok()) continue;
    out.refs.push_back({*at, absl::StrCat("bypass cpu ", cpu)});
  }
}

void GlobalDsqs(Reader& reader, const ScxContext& ctx, const SchedLocation& sched, DsqRefs& out) {
  if (!sched.global_dsqs_ptr) return;
  absl::StatusOr<Kva> array = reader.ReadPtr(*sched.global_dsqs_ptr);
  if (!array.ok() || array->IsNull()) {
    return Problem(out, "global DSQ array", array.ok() ? BadData("NULL") : array.status());
  }
  for (uint32_t node = 0; node < ctx.nr_nodes; ++node) {
    absl::StatusOr<Kva> elem = reader.ReadPtr(*array + uint64_t{node} * 8);
    if (!elem.ok()) {
      Problem(out, absl::StrCat("global DSQ of node ", node), elem.status());
      continue;
    }
    if (elem->IsNull()) continue;  // node without memory/CPUs gets no DSQ
    out.refs.push_back({*elem + sched.global_dsq_member, absl::StrCat("global node ", node)});
  }
}

void UserDsqs(Reader& reader, const ScxContext& ctx, const SchedLocation& sched, DsqRefs& out) {
  if (!sched.dsq_hash || !ctx.off.rhashtable || !ctx.off.dsq) return;
  const ds::RhashtableWalk w = ds::RhashtableForEach(reader, *sched.dsq_hash, *ctx.off.rhashtable);
  if (!w.root_ok) return Problem(out, "dsq_hash", w.first_error);
  if (!w.first_error.ok()) Problem(out, "dsq_hash bucket", w.first_error);
  out.user_truncated = w.truncated || w.unreadable_buckets > 0;
  for (Kva head : w.heads) {
    out.refs.push_back({ds::ContainerOf(head, ctx.off.dsq->hash_node), "user"});
  }
}

}  // namespace

DsqRefs SchedDsqs(Reader& reader, const ScxContext& ctx, const SchedLocation& sched) {
  DsqRefs out;
  if (ctx.percpu == nullptr) return out;
  BypassDsqs(reader, ctx, sched, out);
  GlobalDsqs(reader, ctx, sched, out);
  UserDsqs(reader, ctx, sched, out);
  return out;
}

}  // namespace kfreeze::walkers::scx
