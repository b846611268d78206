// `kfreeze report show --style kernel`: a report laid out like the kernel's own sched_ext dump
// (scx_dump_state() in kernel/sched/ext.c: the exit and its backtrace, "CPU states" with each
// busy CPU's current and runnable tasks and their stacks, "Event counters"), so it reads beside,
// and diffs against, what the guest's sched_ext_dump tracepoint prints. A field the report lacks
// is left out, never shown as a made-up value.
#pragma once

#include <string>

#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

std::string RenderSingleKernelStyle(const kfreeze::v1::FailureDumpReport& report);

// The report an envelope holds: a single one; a dual one's early then late capture, each headed;
// a degraded one's reason, then the report collected before the failure.
std::string RenderReportKernelStyle(const kfreeze::v1::DumpEnvelope& envelope);

}  // namespace kfreeze::report
