#include "core/walkers/scx/scx_features.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/walkers/scx/event_counter_fields.h"

namespace kfreeze::walkers::scx {
namespace {

const char* LayoutName(ScxLayout layout) {
  switch (layout) {
    case ScxLayout::kScxRoot:
      return "scx_root";
    case ScxLayout::kScxOpsGlobals:
      return "scx_ops_globals";
    case ScxLayout::kNone:
      break;
  }
  return "none";
}

// Mirrors LocateSched's choices without reading guest memory.
const char* EventCountersLayout(const ScxContext& ctx) {
  if (!ctx.off.event_stats) return "none";
  const Group<SchedOffsets>& s = ctx.off.sched;
  if (ctx.layout == ScxLayout::kScxRoot && s) {
    if (s->pcpu && ctx.off.sched_pcpu && ctx.off.sched_pcpu->event_stats) return "sched_pcpu";
    if (s->event_stats_cpu) return "sched_event_stats_cpu";
  }
  if (ctx.layout == ScxLayout::kScxOpsGlobals && ctx.roots.event_stats_cpu) {
    return "global_percpu";
  }
  return "none";
}

const char* WatchdogField(const ScxContext& ctx) {
  if (ctx.layout == ScxLayout::kScxRoot && ctx.off.sched && ctx.off.sched->watchdog_timeout) {
    return "scx_sched";
  }
  return ctx.roots.watchdog_timeout ? "global" : "none";
}

const char* GlobalDsqs(const ScxContext& ctx) {
  if (ctx.layout == ScxLayout::kScxRoot && ctx.off.sched) {
    if (ctx.off.sched->pnode && ctx.off.sched_pnode) return "pnode";
    if (ctx.off.sched->global_dsqs) return "node_array";
  }
  if (ctx.layout == ScxLayout::kScxOpsGlobals && ctx.roots.global_dsqs) return "node_array";
  return "none";
}

}  // namespace

kfreeze::v1::ScxKernelFeatures DescribeScxFeatures(const ScxContext& ctx) {
  kfreeze::v1::ScxKernelFeatures f;
  f.set_layout(LayoutName(ctx.layout));
  f.set_event_counters_layout(EventCountersLayout(ctx));
  f.set_watchdog_timeout_field(WatchdogField(ctx));
  f.set_sub_sched(ctx.layout == ScxLayout::kScxRoot && ctx.off.sched &&
                  (ctx.off.sched->parent || ctx.off.sched->level));
  f.set_global_dsqs(GlobalDsqs(ctx));

  auto absent = [&f](absl::string_view message, absl::string_view field) {
    f.add_absent_fields(absl::StrCat(message, ".", field));
  };
  if (ctx.off.scx_rq) {
    const ScxRqOffsets& rq = *ctx.off.scx_rq;
    if (!rq.ops_qseq) absent("rq_scx_state", "ops_qseq");
    if (!rq.kick_sync) absent("rq_scx_state", "kick_sync");
    if (!rq.nr_immed) absent("rq_scx_state", "nr_immed");
    if (!rq.clock) absent("rq_scx_state", "rq_clock");
  }
  const bool rooted = ctx.layout == ScxLayout::kScxRoot && ctx.off.sched;
  if (!(rooted && ctx.off.sched->aborting) && !ctx.roots.aborting) {
    absent("scx_sched_state", "aborting");
  }
  if (!(rooted && ctx.off.sched->bypass_depth) && !ctx.roots.bypass_depth) {
    absent("scx_sched_state", "bypass_depth");
  }
  if (std::string(WatchdogField(ctx)) == "none") absent("scx_sched_state", "watchdog_timeout");
  if (ctx.off.exit_info && !ctx.off.exit_info->flags) absent("scx_exit_info", "flags");
  const bool have_counters = std::string(EventCountersLayout(ctx)) != "none";
  for (const google::protobuf::FieldDescriptor* field : EventCounterFields()) {
    bool read = false;
    if (have_counters) {
      for (const EventCounterOffset& c : ctx.off.event_stats->counters) read |= c.field == field;
    }
    if (!read) absent("event_counter_sample", field->name());
  }
  return f;
}

}  // namespace kfreeze::walkers::scx
