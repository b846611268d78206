#include "core/walkers/scx/sched_location.h"

#include "core/base/status.h"

namespace kfreeze::walkers::scx {
namespace {

std::optional<Kva> At(Kva base, const std::optional<uint64_t>& member) {
  if (!member) return std::nullopt;
  return base + *member;
}

// 6.16+: everything hangs off *scx_root.
absl::StatusOr<std::optional<SchedLocation>> LocateRooted(Reader& reader, const ScxContext& ctx) {
  if (!ctx.off.sched) return absl::FailedPreconditionError("missing offset group scx_sched");
  KF_ASSIGN_OR_RETURN(Kva sched, reader.ReadPtr(*ctx.roots.scx_root));
  if (sched.IsNull()) return std::nullopt;
  const SchedOffsets& o = *ctx.off.sched;
  SchedLocation loc;
  loc.id = sched;
  loc.ops = sched + o.ops;
  loc.exit_kind = sched + o.exit_kind;
  loc.exit_info_ptr = At(sched, o.exit_info);
  loc.dsq_hash = sched + o.dsq_hash;
  // 7.1 moved these into scx_sched; before, they are globals (scx_aborting from 6.19).
  loc.aborting = o.aborting ? At(sched, o.aborting) : ctx.roots.aborting;
  loc.bypass_depth = o.bypass_depth ? At(sched, o.bypass_depth) : ctx.roots.bypass_depth;
  // 7.1 moved the watchdog timeout into scx_sched; before, it is a global.
  loc.watchdog_timeout =
      o.watchdog_timeout ? At(sched, o.watchdog_timeout) : ctx.roots.watchdog_timeout;
  if (o.pnode && ctx.off.sched_pnode) {  // 7.1+: pnode[node]->global_dsq
    loc.global_dsqs_ptr = sched + *o.pnode;
    loc.global_dsq_member = ctx.off.sched_pnode->global_dsq;
  } else if (o.global_dsqs) {  // 6.16-7.0: global_dsqs[node] is the DSQ
    loc.global_dsqs_ptr = sched + *o.global_dsqs;
  }
  if (o.pcpu && ctx.off.sched_pcpu) {  // 6.18+: per-CPU struct scx_sched_pcpu (bypass DSQ 7.1+)
    const SchedPcpuOffsets& p = *ctx.off.sched_pcpu;
    if (p.event_stats) loc.event_stats = PerCpuObject{sched + *o.pcpu, true, *p.event_stats};
    if (p.bypass_dsq) loc.bypass_dsq = PerCpuObject{sched + *o.pcpu, true, *p.bypass_dsq};
  } else if (o.event_stats_cpu) {  // 6.16-6.17
    loc.event_stats = PerCpuObject{sched + *o.event_stats_cpu, true, 0};
  }
  return loc;
}

// 6.12-6.15: one scheduler at a time, its state in ext.c globals; attached unless the enable
// state says SCX_DISABLED.
absl::StatusOr<std::optional<SchedLocation>> LocateGlobals(Reader& reader, const ScxContext& ctx) {
  const ScxRoots& r = ctx.roots;
  if (!r.ops || !r.exit_kind) {
    return absl::FailedPreconditionError("no scx_ops / scx_exit_kind symbols");
  }
  if (r.enable_state && ctx.disabled_state) {
    KF_ASSIGN_OR_RETURN(int32_t state, reader.ReadS32(*r.enable_state));
    if (state == *ctx.disabled_state) return std::nullopt;
  }
  SchedLocation loc;
  loc.id = *r.ops;
  loc.ops = *r.ops;
  loc.exit_kind = *r.exit_kind;
  loc.exit_info_ptr = r.exit_info;
  loc.dsq_hash = r.dsq_hash;
  loc.bypass_depth = r.bypass_depth;
  loc.watchdog_timeout = r.watchdog_timeout;
  loc.global_dsqs_ptr = r.global_dsqs;
  if (r.event_stats_cpu) loc.event_stats = PerCpuObject{*r.event_stats_cpu, false, 0};
  return loc;
}

}  // namespace

absl::StatusOr<std::optional<SchedLocation>> LocateSched(Reader& reader, const ScxContext& ctx) {
  switch (ctx.layout) {
    case ScxLayout::kScxRoot:
      return LocateRooted(reader, ctx);
    case ScxLayout::kScxOpsGlobals:
      return LocateGlobals(reader, ctx);
    case ScxLayout::kNone:
      break;
  }
  return absl::FailedPreconditionError("kernel has no sched_ext scheduler state");
}

absl::StatusOr<Kva> PerCpuTemplate(Reader& reader, const PerCpuObject& object) {
  if (!object.via_pointer) return object.at + object.member;
  KF_ASSIGN_OR_RETURN(Kva p, reader.ReadPtr(object.at));
  if (p.IsNull()) return BadData("per-CPU pointer is NULL");
  return p + object.member;
}

}  // namespace kfreeze::walkers::scx
