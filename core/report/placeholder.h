// Reports built without a capture.
#pragma once

#include <string>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

// ktstr's FailureDumpReport::placeholder: every *_unavailable carries `reason` (probe_counters its
// static one), is_placeholder set.
kfreeze::v1::FailureDumpReport MakePlaceholderReport(const std::string& reason);

}  // namespace kfreeze::report
