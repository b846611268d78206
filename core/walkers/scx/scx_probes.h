// Cheap reads of a running guest for the daemon's auto-triggers and event-counter timeline.
// They run without freezing the VM, so each result is a best-effort snapshot: a pointer may
// change between two reads, which callers tolerate (the next poll re-reads).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

struct ExitProbeResult {
  bool attached = false;  // a scheduler is attached (scx_root != NULL, or not SCX_DISABLED)
  uint64_t sched_kva = 0;
  uint32_t exit_kind = 0;
  // For an error exit: the kernel has finished writing scx_exit_info (it sets exit_kind first,
  // then msg and backtrace, and exit_info.kind last). True when there is nothing to wait for.
  bool exit_info_written = true;
  uint64_t exit_kind_kva = 0;  // where exit_kind lives: the late trigger's watchpoint address
};

// A few reads: where the scheduler is (scx_root, or the enable state), then its exit_kind.
absl::StatusOr<ExitProbeResult> ProbeExitKind(Reader& reader, const ScxContext& ctx);

// The exit info of scheduler instance `sched_kva`, read now (the late trigger completes a capture
// taken at the exit_kind write with it). An instance detached by now is read at its address (6.16+
// layout; the caller checks exit_info.kind); FailedPrecondition when that cannot be done.
absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfoOf(Reader& reader, const ScxContext& ctx,
                                                        uint64_t sched_kva);

struct RunnableAgeResult {
  uint64_t jiffies = 0;
  uint32_t hz = 0;
  uint64_t watchdog_timeout_jiffies = 0;  // 0 when no scheduler / unknown
  uint64_t max_age_jiffies = 0;
  uint32_t tasks_scanned = 0;
};

// The kernel watchdog's own check (check_rq_for_timeouts): the oldest runnable_at over every
// CPU's rq->scx.runnable_list. FailedPrecondition names a missing prerequisite.
absl::StatusOr<RunnableAgeResult> ScanRunnableAges(Reader& reader, const ScxContext& ctx);

// The SCX_EV_* sums of the attached scheduler (one EventCounterSample, elapsed_ms unset);
// FailedPrecondition when no scheduler is attached.
absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters(Reader& reader,
                                                                    const ScxContext& ctx);

}  // namespace kfreeze::walkers::scx
