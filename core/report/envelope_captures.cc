#include "core/report/envelope_captures.h"

namespace kfreeze::report {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpReport;

std::vector<Capture> Captures(const DumpEnvelope& e) {
  switch (e.report_case()) {
    case DumpEnvelope::kSingle:
      return {{"late", &e.single()}};
    case DumpEnvelope::kDual:
      if (e.dual().has_early()) return {{"early", &e.dual().early()}, {"late", &e.dual().late()}};
      return {{"late", &e.dual().late()}};
    case DumpEnvelope::kDegraded:
      if (e.degraded().has_partial()) return {{"late", &e.degraded().partial()}};
      return {};
    case DumpEnvelope::REPORT_NOT_SET:
      break;
  }
  return {};
}

const FailureDumpReport* FindCapture(const DumpEnvelope& e, std::string_view name) {
  if (name.empty()) name = "late";
  for (const Capture& c : Captures(e)) {
    if (c.name == name) return c.report;
  }
  return nullptr;
}

std::vector<FailureDumpReport*> MutableCaptures(DumpEnvelope& e) {
  std::vector<FailureDumpReport*> out;
  for (const Capture& c : Captures(e)) out.push_back(const_cast<FailureDumpReport*>(c.report));
  return out;
}

}  // namespace kfreeze::report
