// Text for the sched_ext state, in the order a stall is read: the exit, the scheduler, the
// runqueues, the DSQs with their tasks in queue order, the event counters; and the event timeline.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/base/types.h"
#include "core/report/render_text.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report::text {

using namespace kfreeze::v1;

namespace {

// DSQs in the order a task moves through them to a CPU: local, bypass, global, then the
// scheduler's own; each kind keeps the report's order (CPU, node).
int DsqRank(const DsqState& d) {
  constexpr absl::string_view kOrder[] = {"local", "bypass", "global", "user"};
  for (size_t i = 0; i < std::size(kOrder); ++i) {
    if (absl::StartsWith(d.origin(), kOrder[i])) return static_cast<int>(i);
  }
  return static_cast<int>(std::size(kOrder));
}

}  // namespace

bool KernelHas(const FailureDumpReport& r, absl::string_view field) {
  const auto& absent = r.scx_features().absent_fields();
  return std::find(absent.begin(), absent.end(), field) == absent.end();
}

std::vector<std::pair<std::string, int64_t>> EventCounters(const EventCounterSample& s,
                                                           const FailureDumpReport& r) {
  std::vector<std::pair<std::string, int64_t>> counters;
  const auto* d = EventCounterSample::descriptor();
  for (int f = 0; f < d->field_count(); ++f) {
    const auto* field = d->field(f);
    if (field->name() == "elapsed_ms") continue;
    if (!KernelHas(r, absl::StrCat("event_counter_sample.", field->name()))) continue;
    counters.emplace_back(field->name(), EventCounterSample::GetReflection()->GetInt64(s, field));
  }
  return counters;
}

void RenderScxExit(const FailureDumpReport& r, std::string* out) {
  AppendReason(out, "scx_walker", r.has_scx_walker_unavailable(), r.scx_walker_unavailable());
  if (!r.scx_sched_state().has_exit_info()) return;
  const auto& e = r.scx_sched_state().exit_info();
  absl::StrAppend(out, "exit: kind=", e.kind(), " code=", e.exit_code());
  if (e.has_flags()) absl::StrAppend(out, " flags=", Hex(e.flags()));
  if (e.has_reason()) absl::StrAppend(out, " reason=\"", e.reason(), "\"");
  absl::StrAppend(out, "\n");
  if (e.has_msg()) absl::StrAppend(out, "  msg: ", e.msg(), "\n");
  if (e.backtrace_size()) absl::StrAppend(out, "  backtrace:\n");
  for (const auto& f : e.backtrace()) absl::StrAppend(out, "    ", f, "\n");
  if (e.has_dump()) absl::StrAppend(out, "  kernel dump:\n", e.dump(), "\n");
}

void RenderScxSched(const FailureDumpReport& r, std::string* out) {
  if (r.has_scx_sched_state()) {
    const auto& s = r.scx_sched_state();
    absl::StrAppend(out, "scx_sched:", s.has_ops_name() ? absl::StrCat(" ", s.ops_name()) : "",
                    " exit_kind=", s.exit_kind());
    // Fields this kernel does not have are left out rather than shown as 0.
    if (KernelHas(r, "scx_sched_state.aborting")) {
      absl::StrAppend(out, " aborting=", s.aborting() ? "true" : "false");
    }
    if (KernelHas(r, "scx_sched_state.bypass_depth"))
      absl::StrAppend(out, " bypass_depth=", s.bypass_depth());
    if (s.has_exit_kind_raw())
      absl::StrAppend(out, " (exit_kind field reads ", s.exit_kind_raw(), ")");
    if (s.has_watchdog_timeout())
      absl::StrAppend(out, " watchdog_timeout=", s.watchdog_timeout(), "j");
    if (s.has_enable_state()) absl::StrAppend(out, " state=", s.enable_state());
    if (s.has_source()) absl::StrAppend(out, " source=", s.source());
    if (s.has_sched_kva()) absl::StrAppend(out, " sched=", Hex(s.sched_kva()));
    absl::StrAppend(out, "\n");
  }
  if (r.has_active_obj_name()) {
    absl::StrAppend(out, "active scheduler object: ", r.active_obj_name(), "\n");
  }
  if (r.has_scx_features()) {
    absl::StrAppend(out, "scx_layout: ", r.scx_features().layout(),
                    " counters=", r.scx_features().event_counters_layout(),
                    " global_dsqs=", r.scx_features().global_dsqs(), "\n");
  }
}

void RenderRunqueues(const FailureDumpReport& r, std::string* out) {
  const bool has_ops_qseq = KernelHas(r, "rq_scx_state.ops_qseq");
  for (const auto& rq : r.rq_scx_states()) {
    absl::StrAppend(out, absl::StrFormat("CPU %-3d: nr_run=%d flags=0x%x cpu_rel=%d", rq.cpu(),
                                         rq.nr_running(), rq.flags(), rq.cpu_released() ? 1 : 0));
    if (rq.has_kick_sync()) absl::StrAppend(out, " ksync=", rq.kick_sync());
    if (has_ops_qseq) absl::StrAppend(out, " ops_qseq=", rq.ops_qseq());
    if (rq.has_rq_clock()) absl::StrAppend(out, " clock=", rq.rq_clock());
    if (rq.has_curr_pid()) {
      absl::StrAppend(out, " curr=", rq.has_curr_comm() ? rq.curr_comm() : "?", "[", rq.curr_pid(),
                      "]");
    }
    if (rq.has_curr_sched_class()) absl::StrAppend(out, " class=", rq.curr_sched_class());
    absl::StrAppend(out, " runnable=", rq.runnable_task_kvas_size(),
                    rq.runnable_truncated() ? " (truncated)" : "", "\n");
  }
}

void RenderDsqs(const FailureDumpReport& r, std::string* out) {
  std::vector<const DsqState*> dsqs;
  for (const auto& d : r.dsq_states()) dsqs.push_back(&d);
  std::stable_sort(dsqs.begin(), dsqs.end(),
                   [](const DsqState* a, const DsqState* b) { return DsqRank(*a) < DsqRank(*b); });
  const TasksByKva tasks = IndexTasksByKva(r);
  for (const DsqState* d : dsqs) {
    absl::StrAppend(out, "dsq ", Hex(d->id()), " (", d->origin(), "): nr=", d->nr(),
                    " seq=", d->seq(), d->truncated() ? " (truncated)" : "");
    if (d->has_oldest_runnable_age_jiffies()) {
      absl::StrAppend(out, " oldest=", d->oldest_runnable_age_jiffies(), "j");
    }
    absl::StrAppend(out, "\n");
    // The queue in dispatch order, each task by name where it was captured.
    const int shown = std::min(d->task_kvas_size(), kMaxListedItems);
    for (int i = 0; i < shown; ++i) {
      const uint64_t kva = d->task_kvas(i);
      absl::StrAppend(out, "  [", i, "] ", Hex(kva));
      if (auto it = tasks.find(kva); it != tasks.end()) {
        const TaskEnrichment& t = *it->second;
        absl::StrAppend(out, " ", TaskLabel(t));
        if (t.has_runnable_at_age_jiffies())
          absl::StrAppend(out, " waiting=", t.runnable_at_age_jiffies(), "j");
      }
      absl::StrAppend(out, "\n");
    }
    if (d->task_kvas_size() > shown)
      absl::StrAppend(out, "  ... ", d->task_kvas_size() - shown, " more tasks\n");
  }
}

void RenderScxEvents(const FailureDumpReport& r, std::string* out) {
  if (!r.scx_sched_state().has_event_counters()) return;
  absl::StrAppend(out, "scx events (summed over CPUs):");
  for (const auto& [name, value] : EventCounters(r.scx_sched_state().event_counters(), r))
    absl::StrAppend(out, " ", name, "=", value);
  absl::StrAppend(out, "\n");
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
