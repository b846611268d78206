#include "server/daemon/dump_summary.h"

#include "core/report/render_text.h"
#include "core/report/scx_exit_kind.h"

namespace kfreeze::server {

std::string SchemaName(const kfreeze::v1::DumpEnvelope& envelope) {
  switch (envelope.report_case()) {
    case kfreeze::v1::DumpEnvelope::kSingle:
      return "single";
    case kfreeze::v1::DumpEnvelope::kDual:
      return "dual";
    case kfreeze::v1::DumpEnvelope::kDegraded:
      return "degraded";
    case kfreeze::v1::DumpEnvelope::REPORT_NOT_SET:
      break;
  }
  return "";
}

kfreeze::v1::DumpSummary MakeSummary(const kfreeze::v1::DumpEnvelope& envelope, uint64_t size_bytes,
                                     uint64_t seq) {
  kfreeze::v1::DumpSummary s;
  s.set_dump_id(envelope.dump_id());
  s.set_target(envelope.target());
  *s.mutable_captured_at() = envelope.captured_at();
  s.set_trigger(envelope.trigger());
  s.set_schema(SchemaName(envelope));
  *s.mutable_labels() = envelope.labels();
  s.set_live(envelope.live());
  s.set_size_bytes(size_bytes);
  s.set_kernel_release(envelope.kernel_release());
  for (const auto& t : envelope.timings()) {
    if (t.phase() == "freeze_window") s.set_freeze_window_us(t.duration_us());
  }
  s.set_summary(report::SummaryLine(envelope));
  s.set_seq(seq);
  s.set_exit_kind(report::DumpExitKind(envelope));
  s.set_exit_kind_name(report::ScxExitKindName(s.exit_kind()));
  s.set_scheduler(report::DumpScheduler(envelope));
  return s;
}

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& have,
                 const google::protobuf::Map<std::string, std::string>& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace kfreeze::server
