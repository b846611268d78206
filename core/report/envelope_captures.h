// The reports a dump envelope holds, by capture: "early" and "late" for a dual report; "late" for
// a single report and for a degraded report's partial one (the capture that stands for the dump).
#pragma once

#include <string_view>
#include <vector>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

struct Capture {
  std::string_view name;  // "early" | "late"
  const kfreeze::v1::FailureDumpReport* report;
};

// In capture order; an absent early capture or partial report is left out.
std::vector<Capture> Captures(const kfreeze::v1::DumpEnvelope& envelope);
// The capture named `name` ("" = "late"), or null.
const kfreeze::v1::FailureDumpReport* FindCapture(const kfreeze::v1::DumpEnvelope& envelope,
                                                  std::string_view name);
// The same reports, to change in place.
std::vector<kfreeze::v1::FailureDumpReport*> MutableCaptures(kfreeze::v1::DumpEnvelope& envelope);

}  // namespace kfreeze::report
