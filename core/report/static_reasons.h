// Reasons that hold for every report kfreeze builds, whatever the guest: sections only ktstr's
// in-guest machinery can fill.
#pragma once

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

// Sets probe_counters_unavailable (kfreeze loads no BPF probe) unless probe_counters is present.
// Called on every report a freeze starts, so partial and degraded reports carry it too.
void StampStaticReasons(kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::report
