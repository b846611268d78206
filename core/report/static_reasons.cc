#include "core/report/static_reasons.h"

#include <string>

#include "core/base/reasons.h"

namespace kfreeze::report {

void StampStaticReasons(kfreeze::v1::FailureDumpReport& report) {
  // A report read from ktstr may carry real counters; only an empty section gets the reason.
  if (!report.has_probe_counters()) {
    report.set_probe_counters_unavailable(std::string(kReasonNoProbeLoaded));
  }
}

}  // namespace kfreeze::report
