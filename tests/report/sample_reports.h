// Hand-built reports that exercise every message and every RenderedValue kind; shared by the
// golden tests and the report benchmarks.
#pragma once

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::testing {

kfreeze::v1::FailureDumpReport SampleSingleReport();
kfreeze::v1::DualFailureDumpReport SampleDualReport();
kfreeze::v1::DegradedFailureDumpReport SampleDegradedReport();
kfreeze::v1::FailureDumpReport SamplePlaceholderReport();

// A large report: `hash_entries` struct-valued entries, `cpus` CPUs of per-CPU time and rq
// state, `tasks` tasks.
kfreeze::v1::FailureDumpReport LargeReport(int hash_entries, int cpus, int tasks);

}  // namespace kfreeze::testing
