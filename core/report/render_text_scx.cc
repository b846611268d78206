// Text for the sched_ext state (scheduler, runqueues, DSQs) and the event timeline.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/types.h"
#include "core/report/render_text.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report::text {

using namespace kfreeze::v1;

void RenderScx(const FailureDumpReport& r, std::string* out) {
  AppendReason(out, "scx_walker", r.has_scx_walker_unavailable(), r.scx_walker_unavailable());
  // Fields this kernel does not have are left out rather than shown as 0.
  const auto& absent_fields = r.scx_features().absent_fields();
  auto has = [&absent_fields](absl::string_view field) {
    return std::find(absent_fields.begin(), absent_fields.end(), field) == absent_fields.end();
  };
  if (r.has_scx_features()) {
    absl::StrAppend(out, "scx_layout: ", r.scx_features().layout(),
                    " counters=", r.scx_features().event_counters_layout(),
                    " global_dsqs=", r.scx_features().global_dsqs(), "\n");
  }
  if (r.has_scx_sched_state()) {
    const auto& s = r.scx_sched_state();
    absl::StrAppend(out, "scx_sched:", s.has_ops_name() ? absl::StrCat(" ", s.ops_name()) : "",
                    " exit_kind=", s.exit_kind());
    if (has("scx_sched_state.aborting")) {
      absl::StrAppend(out, " aborting=", s.aborting() ? "true" : "false");
    }
    if (has("scx_sched_state.bypass_depth"))
      absl::StrAppend(out, " bypass_depth=", s.bypass_depth());
    if (s.has_exit_kind_raw())
      absl::StrAppend(out, " (exit_kind field reads ", s.exit_kind_raw(), ")");
    if (s.has_watchdog_timeout())
      absl::StrAppend(out, " watchdog_timeout=", s.watchdog_timeout(), "j");
    if (s.has_enable_state()) absl::StrAppend(out, " state=", s.enable_state());
    if (s.has_source()) absl::StrAppend(out, " source=", s.source());
    if (s.has_sched_kva()) absl::StrAppend(out, " sched=", Hex(s.sched_kva()));
    absl::StrAppend(out, "\n");
    if (s.has_exit_info()) {
      const auto& e = s.exit_info();
      absl::StrAppend(out, "  exit: kind=", e.kind(), " code=", e.exit_code());
      if (e.has_flags()) absl::StrAppend(out, " flags=", Hex(e.flags()));
      if (e.has_reason()) absl::StrAppend(out, " reason=\"", e.reason(), "\"");
      absl::StrAppend(out, "\n");
      if (e.has_msg()) absl::StrAppend(out, "  msg: ", e.msg(), "\n");
      for (const auto& f : e.backtrace()) absl::StrAppend(out, "    ", f, "\n");
      if (e.has_dump()) absl::StrAppend(out, "  kernel dump:\n", e.dump(), "\n");
    }
  }
  for (const auto& rq : r.rq_scx_states()) {
    absl::StrAppend(out, absl::StrFormat("CPU %-3d: nr_run=%d flags=0x%x cpu_rel=%d", rq.cpu(),
                                         rq.nr_running(), rq.flags(), rq.cpu_released() ? 1 : 0));
    if (rq.has_kick_sync()) absl::StrAppend(out, " ksync=", rq.kick_sync());
    if (has("rq_scx_state.ops_qseq")) absl::StrAppend(out, " ops_qseq=", rq.ops_qseq());
    if (rq.has_rq_clock()) absl::StrAppend(out, " clock=", rq.rq_clock());
    if (rq.has_curr_pid()) {
      absl::StrAppend(out, " curr=", rq.has_curr_comm() ? rq.curr_comm() : "?", "[", rq.curr_pid(),
                      "]");
    }
    if (rq.has_curr_sched_class()) absl::StrAppend(out, " class=", rq.curr_sched_class());
    absl::StrAppend(out, " runnable=", rq.runnable_task_kvas_size(),
                    rq.runnable_truncated() ? " (truncated)" : "", "\n");
  }
  for (const auto& d : r.dsq_states()) {
    absl::StrAppend(out, "dsq ", Hex(d.id()), " (", d.origin(), "): nr=", d.nr(), " seq=", d.seq(),
                    d.truncated() ? " (truncated)" : "");
    if (d.has_oldest_runnable_age_jiffies()) {
      absl::StrAppend(out, " oldest=", d.oldest_runnable_age_jiffies(), "j");
    }
    std::vector<std::string> kvas;
    for (int i = 0; i < d.task_kvas_size() && i < kMaxListedPcs; ++i)
      kvas.push_back(Hex(d.task_kvas(i)));
    if (!kvas.empty())
      absl::StrAppend(out, " tasks=[", absl::StrJoin(kvas, ", "),
                      d.task_kvas_size() > kMaxListedPcs ? ", ..." : "", "]");
    absl::StrAppend(out, "\n");
  }
}

void RenderEventTimeline(const FailureDumpReport& r, std::string* out) {
  AppendReason(out, "event_counter_timeline", r.has_event_counter_timeline_unavailable(),
               r.event_counter_timeline_unavailable());
  const auto& samples = r.event_counter_timeline();
  if (samples.empty()) return;
  absl::StrAppend(out, "event_counter_timeline: ", samples.size(), " samples (",
                  samples[0].elapsed_ms(), "–", samples[samples.size() - 1].elapsed_ms(), "ms)\n");
  const auto* d = EventCounterSample::descriptor();
  const auto* refl = EventCounterSample::GetReflection();
  for (int f = 0; f < d->field_count(); ++f) {
    const auto* field = d->field(f);
    if (field->name() == "elapsed_ms") continue;
    std::vector<int64_t> series;
    bool any = false;
    for (const auto& s : samples) {
      series.push_back(refl->GetInt64(s, field));
      any |= series.back() != 0;
    }
    if (!any) continue;
    absl::StrAppend(out, absl::StrFormat("%30s  %s  (last=%d)\n", field->name(),
                                         RenderSparklineI64(series), series.back()));
  }
}

}  // namespace kfreeze::report::text
