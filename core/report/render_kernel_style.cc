// The kernel-style layout's frame: the exit header, the event counters, kfreeze's reasons and
// truncation after the kernel's part, and the dual/degraded wrappers. "CPU states" is in
// render_kernel_style_cpus.cc.
#include "core/report/render_kernel_style.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/types.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report {

using namespace kfreeze::v1;

namespace {

// SCX_EXIT_BT_LEN and SCX_EXIT_MSG_LEN: the kernel keeps no more than this.
constexpr int kExitBacktraceLen = 64;
constexpr size_t kExitMsgLen = 1024;

// "<ops>: root", "triggered exit kind N:", "  reason (msg)", "Backtrace:" and its frames.
void AppendExitHeader(const FailureDumpReport& r, std::string* out) {
  if (!r.has_scx_sched_state()) return;
  const ScxSchedState& s = r.scx_sched_state();
  // kfreeze reads scx_root (before 6.16 the one scheduler there is): always the root.
  if (s.has_ops_name()) absl::StrAppend(out, text::OneLine(s.ops_name()), ": root\n");
  const ScxExitInfo& e = s.exit_info();
  // exit_info.kind holds the kind once the kernel's disable work moved exit_kind to DONE.
  const uint32_t kind = e.kind() != 0 ? e.kind() : s.exit_kind();
  if (kind == 0) return;
  // The kernel starts this line with the comm[pid] that raised the exit; the report lacks it.
  absl::StrAppend(out, "triggered exit kind ", kind, ":\n");
  if (!s.has_exit_info()) return;
  if (e.has_reason() && e.has_msg()) {
    absl::StrAppend(out, "  ", text::OneLine(e.reason()), " (", text::OneLine(e.msg(), kExitMsgLen),
                    ")\n");
  } else if (e.has_reason() || e.has_msg()) {
    absl::StrAppend(out, "  ",
                    e.has_reason() ? text::OneLine(e.reason())
                                   : absl::StrCat("(", text::OneLine(e.msg(), kExitMsgLen), ")"),
                    "\n");
  }
  absl::StrAppend(out, "\nBacktrace:\n");
  // Symbolized frames when the capture had them, else the addresses.
  const int frames =
      std::min(std::max(e.backtrace_size(), e.backtrace_pcs_size()), kExitBacktraceLen);
  for (int i = 0; i < frames; ++i) {
    absl::StrAppend(
        out, "  ", i < e.backtrace_size() ? text::OneLine(e.backtrace(i)) : Hex(e.backtrace_pcs(i)),
        "\n");
  }
}

void AppendEventCounters(const FailureDumpReport& r, std::string* out) {
  if (!r.scx_sched_state().has_event_counters()) return;
  absl::StrAppend(out, "\nEvent counters\n--------------\n");
  for (const auto& [name, value] : text::EventCounters(r.scx_sched_state().event_counters(), r)) {
    absl::StrAppend(
        out, absl::StrFormat("%40s: %16d\n", absl::StrCat("SCX_EV_", absl::AsciiStrToUpper(name)),
                             value));
  }
}

// kfreeze's own lines, after the kernel's part: why a part is missing, and where the dump was cut
// (the kernel's marker for its own cut buffer).
void AppendReasonsAndCut(const FailureDumpReport& r, std::string* out) {
  std::string reasons;
  text::AppendReason(&reasons, "scx_walker", r.has_scx_walker_unavailable(),
                     r.scx_walker_unavailable());
  text::AppendReason(&reasons, "task_enrichments", r.has_task_enrichments_unavailable(),
                     r.task_enrichments_unavailable());
  text::AppendReason(&reasons, "kernel_stacks", r.has_kernel_stacks_unavailable(),
                     r.kernel_stacks_unavailable());
  if (!reasons.empty()) absl::StrAppend(out, out->empty() ? "" : "\n", reasons);
  bool cut = r.has_dump_truncated_at_us() || r.truncated_phases_size() > 0;
  for (const auto& rq : r.rq_scx_states()) cut |= rq.runnable_truncated();
  if (cut) absl::StrAppend(out, "\n\n~~~~ TRUNCATED ~~~~\n");
}

std::string RenderDualKernelStyle(const DualFailureDumpReport& d) {
  std::string out = absl::StrCat(text::kEarlyHeading, "\n");
  if (d.has_early()) {
    absl::StrAppend(&out, RenderSingleKernelStyle(d.early()));
  } else {
    absl::StrAppend(&out, "(absent: ",
                    d.has_early_skipped_reason() ? d.early_skipped_reason() : "no reason recorded",
                    ")\n");
  }
  absl::StrAppend(&out, "\n", text::kLateHeading, "\n", RenderSingleKernelStyle(d.late()));
  return out;
}

std::string RenderDegradedKernelStyle(const DegradedFailureDumpReport& d) {
  std::string out = absl::StrCat("degraded failure dump: ", d.reason(), "\n");
  if (d.has_partial()) {
    absl::StrAppend(&out, "\n", text::kDegradedPartialHeading, "\n",
                    RenderSingleKernelStyle(d.partial()));
  }
  return out;
}

}  // namespace

std::string RenderSingleKernelStyle(const FailureDumpReport& r) {
  std::string out;
  if (r.is_placeholder()) absl::StrAppend(&out, "placeholder report (no capture ran)\n");
  AppendExitHeader(r, &out);
  text::AppendKernelCpuStates(r, &out);
  AppendEventCounters(r, &out);
  AppendReasonsAndCut(r, &out);
  if (out.empty()) return "(no sched_ext state in this report)\n";
  return out;
}

std::string RenderReportKernelStyle(const DumpEnvelope& e) {
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      return RenderSingleKernelStyle(e.single());
    case DumpEnvelope::kDual:
      return RenderDualKernelStyle(e.dual());
    case DumpEnvelope::kDegraded:
      return RenderDegradedKernelStyle(e.degraded());
    case DumpEnvelope::REPORT_NOT_SET:
      break;
  }
  return "(no report)\n";
}

}  // namespace kfreeze::report
