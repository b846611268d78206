// Reports -> text for people: one section per report part, every *_unavailable reason and the
// truncation state in plain words. The sections live in render_text_{maps,scx,sections}.cc.
#include "core/report/render_text.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/report/render_kernel_style.h"
#include "core/report/render_text_parts.h"
#include "google/protobuf/util/time_util.h"

namespace kfreeze::report {

using namespace kfreeze::v1;

namespace text {

void AppendReason(std::string* out, absl::string_view section, bool has,
                  const std::string& reason) {
  if (has) absl::StrAppend(out, section, ": <unavailable: ", reason, ">\n");
}

std::string OneLine(const std::string& s, size_t max_bytes) {
  size_t cut = std::min(s.size(), max_bytes);
  // Back off to a character boundary: half a UTF-8 sequence would make the output invalid.
  if (cut < s.size()) {
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  }
  std::string out = s.substr(0, cut);
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  if (cut < s.size()) out += "...";
  return out;
}

}  // namespace text

std::string RenderSparkline(std::span<const uint64_t> values) {
  static constexpr std::string_view kGlyphs[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  constexpr uint64_t kLast = std::size(kGlyphs) - 1;
  std::string out;
  if (values.empty()) return out;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const uint64_t min = *lo, max = *hi;
  for (uint64_t v : values) {
    size_t idx;
    if (max == min) {
      idx = max == 0 ? 0 : std::size(kGlyphs) / 2;
    } else {
      // 128-bit product: (v - min) * 7 overflows u64 for large counters.
      unsigned __int128 scaled = static_cast<unsigned __int128>(v - min) * kLast / (max - min);
      idx = static_cast<size_t>(std::min<unsigned __int128>(scaled, kLast));
    }
    out.append(kGlyphs[idx]);
  }
  return out;
}

std::string RenderSparklineI64(std::span<const int64_t> values) {
  std::vector<uint64_t> widened;
  widened.reserve(values.size());
  for (int64_t v : values) widened.push_back(v < 0 ? 0 : static_cast<uint64_t>(v));
  return RenderSparkline(widened);
}

std::string RenderSingleText(const FailureDumpReport& r) {
  std::string out;
  if (r.is_placeholder()) absl::StrAppend(&out, "placeholder report (no capture ran)\n");
  // What a stall is about comes first: the exit, the scheduler, its CPUs and DSQs, the tasks with
  // their stacks; then the machine around them; the BPF maps, the longest part, last. A blank
  // line between the parts.
  using Part = void (*)(const FailureDumpReport&, std::string*);
  const std::vector<std::vector<Part>> parts = {
      {text::RenderScxExit},
      {text::RenderScxSched, text::RenderProgStats},
      {text::RenderRunqueues, text::RenderDsqs, text::RenderScxEvents},
      {text::RenderTasks},
      {text::RenderEventTimeline, text::RenderVcpuRegs, text::RenderArenaAllocators,
       text::RenderCpuTime, text::RenderPsi, text::RenderNuma, text::RenderVcpuPerf,
       text::RenderProbeCounters},
      {text::RenderMaps},
  };
  for (const std::vector<Part>& part : parts) {
    std::string block;
    for (Part render : part) render(r, &block);
    if (!block.empty()) absl::StrAppend(&out, out.empty() ? "" : "\n", block);
  }
  if (r.has_dump_truncated_at_us() || r.maps_truncated() || r.truncated_phases_size()) {
    absl::StrAppend(
        &out, "\ndump truncated: deadline crossed at ",
        r.has_dump_truncated_at_us() ? absl::StrCat(r.dump_truncated_at_us(), "us") : "?", " (",
        r.maps_truncated(), " map(s) skipped");
    if (r.truncated_phases_size())
      absl::StrAppend(&out, "; phases skipped: ", absl::StrJoin(r.truncated_phases(), ", "));
    absl::StrAppend(&out, ")\n");
  }
  for (const kfreeze::v1::StageCut& cut : r.stage_cuts()) {
    absl::StrAppend(&out, "cut in the ", cut.stage(), " stage",
                    cut.stage() == "copy" ? " (freeze window)" : "", ": ", cut.phase(), ": ",
                    cut.reason(), "\n");
  }
  if (out.empty()) return "(empty failure dump)\n";
  return out;
}

std::string RenderDualText(const DualFailureDumpReport& r) {
  std::string out = "DualFailureDumpReport: early=";
  if (!r.has_early()) {
    absl::StrAppend(&out, "absent (",
                    r.has_early_skipped_reason() ? r.early_skipped_reason() : "no reason recorded",
                    ")");
  } else if (r.early_max_age_jiffies() || r.early_threshold_jiffies()) {
    absl::StrAppend(&out, "present (max_age=", r.early_max_age_jiffies(),
                    "j, threshold=", r.early_threshold_jiffies(), "j)");
  } else {
    absl::StrAppend(&out, "present (jiffies not captured)");
  }
  absl::StrAppend(&out, ", late=(", r.late().maps_size(), " maps, ", r.late().vcpu_regs_size(),
                  " vcpu_regs)\n");
  if (r.has_snapshot_tag()) absl::StrAppend(&out, "snapshot tag: ", r.snapshot_tag(), "\n");
  if (r.has_early()) {
    absl::StrAppend(&out, "\n", text::kEarlyHeading, "\n", RenderSingleText(r.early()));
  }
  absl::StrAppend(&out, "\n", text::kLateHeading, "\n", RenderSingleText(r.late()));
  return out;
}

std::string RenderDegradedText(const DegradedFailureDumpReport& r) {
  std::string out = absl::StrCat("degraded failure dump:\n  reason: ", r.reason(), "\n");
  int parked = 0;
  for (const auto& slot : r.vcpu_regs()) parked += slot.has_regs() ? 1 : 0;
  absl::StrAppend(&out, "  vcpus_parked: ", parked, "/", r.vcpu_regs_size(), "\n");
  for (int i = 0; i < r.vcpu_regs_size(); ++i) {
    const auto& slot = r.vcpu_regs(i);
    if (!slot.has_regs()) {
      absl::StrAppend(&out, "    vcpu ", i, ": not_parked\n");
      continue;
    }
    absl::StrAppend(&out,
                    absl::StrFormat("    vcpu %d: parked, ip=0x%016x sp=0x%016x", i,
                                    slot.regs().instruction_pointer(), slot.regs().stack_pointer()),
                    text::PageTableRootText(slot.regs()), "\n");
    text::AppendRegisterFile(slot.regs(), "      ", &out);
  }
  if (r.unparked_vcpus_size())
    absl::StrAppend(&out, "  never paused: vcpus ", absl::StrJoin(r.unparked_vcpus(), ", "), "\n");
  // kfreeze arms no watchpoint, so a false here says nothing; only a hit (in a ktstr report) does.
  if (r.watchpoint_hit()) absl::StrAppend(&out, "  watchpoint_hit: true\n");
  absl::StrAppend(&out, "  bss_latch_state: ", r.bss_latch_state(), "\n");
  if (r.has_exit_kind()) absl::StrAppend(&out, "  exit_kind: ", r.exit_kind(), "\n");
  if (r.elapsed_ms()) absl::StrAppend(&out, "  elapsed_ms: ", r.elapsed_ms(), "\n");
  if (r.has_partial())
    absl::StrAppend(&out, "\n", text::kDegradedPartialHeading, "\n", RenderSingleText(r.partial()));
  return out;
}

std::string RenderEnvelopeText(const DumpEnvelope& e, TextStyle style) {
  std::string out;
  if (!e.dump_id().empty() || !e.target().empty()) {
    absl::StrAppend(&out, "dump ", e.dump_id(), " target=", e.target(),
                    " trigger=", Trigger_Name(e.trigger()));
    if (e.has_captured_at())
      absl::StrAppend(&out, " at ", google::protobuf::util::TimeUtil::ToString(e.captured_at()));
    if (!e.kernel_release().empty()) absl::StrAppend(&out, " kernel=", e.kernel_release());
    if (e.live()) absl::StrAppend(&out, " LIVE (vCPUs not paused; reads may be torn)");
    absl::StrAppend(&out, "\n");
    std::map<std::string, std::string> labels(e.labels().begin(), e.labels().end());
    for (const auto& [k, v] : labels) absl::StrAppend(&out, "  label ", k, "=", v, "\n");
    if (e.timings_size()) {
      std::vector<std::string> t;
      for (const auto& p : e.timings()) {
        t.push_back(absl::StrCat(p.phase(), "=",
                                 p.skipped() ? "skipped" : absl::StrCat(p.duration_us(), "us")));
      }
      absl::StrAppend(&out, "  timings: ", absl::StrJoin(t, " "), "\n");
    }
    if (e.window_bytes() != 0) {
      absl::StrAppend(&out, "  copied in the freeze window: ", e.window_bytes(), " bytes\n");
    }
    absl::StrAppend(&out, "\n");
  }
  if (style == TextStyle::kKernel) return absl::StrCat(out, RenderReportKernelStyle(e));
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      absl::StrAppend(&out, RenderSingleText(e.single()));
      break;
    case DumpEnvelope::kDual:
      absl::StrAppend(&out, RenderDualText(e.dual()));
      break;
    case DumpEnvelope::kDegraded:
      absl::StrAppend(&out, RenderDegradedText(e.degraded()));
      break;
    case DumpEnvelope::REPORT_NOT_SET:
      absl::StrAppend(&out, "(no report)\n");
      break;
  }
  return out;
}

namespace {
std::string SingleSummary(const FailureDumpReport& r) {
  std::string s = absl::StrCat("maps=", r.maps_size(), " tasks=", r.task_enrichments_size(),
                               " cpus=", std::max(r.rq_scx_states_size(), r.per_cpu_time_size()),
                               " dsqs=", r.dsq_states_size());
  if (r.has_scx_sched_state()) absl::StrAppend(&s, " exit_kind=", r.scx_sched_state().exit_kind());
  if (r.has_active_obj_name()) absl::StrAppend(&s, " scheduler=", r.active_obj_name());
  if (r.is_placeholder()) absl::StrAppend(&s, " placeholder");
  if (r.has_dump_truncated_at_us())
    absl::StrAppend(&s, " truncated_at_us=", r.dump_truncated_at_us());
  return s;
}
}  // namespace

std::string SummaryLine(const DumpEnvelope& e) {
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      return absl::StrCat("schema=single ", SingleSummary(e.single()));
    case DumpEnvelope::kDual:
      return absl::StrCat("schema=dual early=", e.dual().has_early() ? "present" : "absent",
                          " late: ", SingleSummary(e.dual().late()));
    case DumpEnvelope::kDegraded:
      return absl::StrCat("schema=degraded reason=\"", e.degraded().reason(),
                          "\" vcpus=", e.degraded().vcpu_regs_size());
    case DumpEnvelope::REPORT_NOT_SET:
      return "schema=";
  }
  return "schema=";
}

}  // namespace kfreeze::report
