// Auto-triggers: the daemon freezes a VM on its own when its sched_ext scheduler is failing, and
// pairs the two captures into one `dual` report.
//
//   late:  (*scx_root)->exit_kind polled every late_poll; fires at >= SCX_EXIT_ERROR (1024), once
//          the kernel finished writing scx_exit_info (re-polled every 1 ms for up to 50 ms:
//          exit_kind is set before msg, backtrace and exit_info.kind).
//   early: runnable_at ages scanned every early_poll; fires once the oldest runnable task waited
//          more than watchdog_timeout / 2 (the kernel ejects the scheduler at watchdog_timeout).
//
// Outcomes (DualFailureDumpReport.snapshot_tag, ktstr's sibling-file tags):
//   early then late            -> dual{early, late}
//   late only                  -> dual{late, early_skipped_reason = why early never fired}
//   early, then clean exit     -> dual{early, late = placeholder}, "early-only-late-suppressed"
//   early, late never in time  -> dual{early, late = placeholder}, "early-only-late-never-fired"
//   early capture degraded     -> its partial as early, "early-degraded"
//   late capture degraded      -> its partial as late, "early-pre-late-degraded" (with an early)
//                                 or the degraded envelope itself (without one)
// After firing, a trigger re-arms only for a new scheduler instance (late) or once the oldest
// runnable age fell back below half the threshold (early), so one stall gives one report.
//
// Late watchpoint (SetWatch): a write watchpoint on the exit-kind word stops the VM at the very
// write (RunState "debug"). The engine re-checks the exit kind from memory: an error kind on the
// watched scheduler is a real hit -> the watchpoint is removed, the late capture runs on the VM as
// the hit holds it (no second `stop`; the capture resumes it), then exit info (written by the
// kernel after exit_kind) is re-read every 1 ms for up to 50 ms after the resume and completes the
// report's scx_sched_state.exit_info. Anything else is spurious (a reset, a reused object): re-arm
// and resume. Polling keeps running: it moves the watchpoint when scx_root changes, and it fires
// itself (trigger_source "poll") when no watchpoint can be had or a hit never shows.
//
// The engine is a plain state machine driven by Step(now): the daemon's runner thread calls it,
// tests call it with scripted probes, a fake WatchSource and a synthetic clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/dump/trigger_probes.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

struct TriggerSettings {
  bool late_enabled = false;
  bool early_enabled = false;
  std::chrono::milliseconds late_poll{100};
  std::chrono::milliseconds early_poll{250};
  // 0 = use the guest's scx_root->watchdog_timeout.
  std::chrono::milliseconds watchdog_timeout{0};
  // How long after the early capture to wait for the late one; 0 = 4 x the watchdog timeout.
  std::chrono::milliseconds late_wait{0};
};

// Captures one dump for `trigger`: a `single` or `degraded` envelope with timings.
using TriggerCaptureFn =
    std::function<absl::StatusOr<kfreeze::v1::DumpEnvelope>(kfreeze::v1::Trigger trigger)>;
// Hands over an assembled envelope (dual, or a lone degraded late capture) for archive + stream.
using TriggerPublishFn = std::function<void(kfreeze::v1::DumpEnvelope envelope)>;

class AutoTrigger {
 public:
  using Clock = std::chrono::steady_clock;

  AutoTrigger(TriggerSettings settings, TriggerProbes* probes, TriggerCaptureFn capture,
              TriggerPublishFn publish);

  // The late watchpoint (null: poll only) and the capture to run while a hit holds the VM paused
  // (the daemon passes pause_held; null: `capture`). Call before the first Step.
  void SetWatch(WatchSource* watch, TriggerCaptureFn capture_held);

  // Polls whatever is due at `now`; returns how long to wait before the next call.
  std::chrono::milliseconds Step(Clock::time_point now);

  bool holding_early() const { return early_.has_value(); }
  uint64_t published() const { return published_; }
  // Last probe failure, for logs ("" when the probes work).
  const std::string& last_probe_error() const { return last_probe_error_; }
  // Why the watchpoint is not used ("" while it works or none was given); set once.
  const std::string& watch_error() const { return watch_error_; }
  uint64_t watch_armed_kva() const { return armed_kva_; }
  uint64_t spurious_hits() const { return spurious_hits_; }

 private:
  struct EarlyCapture {
    kfreeze::v1::DumpEnvelope envelope;
    Clock::time_point at;
    uint64_t max_age = 0;
    uint64_t threshold = 0;
  };

  // A late capture taken at a watch hit, waiting for the kernel to finish its exit info.
  struct PendingLate {
    kfreeze::v1::DumpEnvelope envelope;
    Clock::time_point resumed_at;
    uint64_t sched_kva = 0;
    uint32_t exit_kind = 0;
    std::optional<uint32_t> vcpu;
  };
  // How the late report came to be, for DualFailureDumpReport.
  struct LateSource {
    std::string source;  // "watchpoint" | "poll"
    std::optional<uint32_t> vcpu;
  };

  // True while an error exit waits for its exit info to be written (poll again in 1 ms).
  bool PollLate(Clock::time_point now);
  void PollEarly(Clock::time_point now);
  void FireLate(const ScxExitProbe& probe, std::string exit_info_note);
  void PublishLate(kfreeze::v1::DumpEnvelope late, std::string exit_info_note, LateSource source);
  // Takes a pending watch hit, if any, and handles it (true).
  bool PollWatch(Clock::time_point now);
  void HandleHit(const WatchHit& hit, Clock::time_point now);
  // True while the exit info is still being written (try again in 1 ms).
  bool CompletePendingLate(Clock::time_point now);
  // Moves the watchpoint to where `probe` says it belongs (0: nowhere).
  void SyncWatch(const ScxExitProbe& probe);
  void ArmWatch(uint64_t kva);
  bool WatchUsable() const { return watch_ != nullptr && watch_error_.empty(); }
  void PublishEarlyOnly(absl::string_view tag);
  std::string EarlySkippedReason() const;
  std::chrono::milliseconds LateWait() const;

  const TriggerSettings settings_;
  TriggerProbes* const probes_;
  const TriggerCaptureFn capture_;
  const TriggerPublishFn publish_;

  Clock::time_point next_late_{};
  Clock::time_point next_early_{};
  bool late_armed_ = true;
  uint64_t fired_sched_kva_ = 0;  // scheduler instance the late trigger fired for
  // When the current error exit was first seen with its exit info still being written.
  std::optional<Clock::time_point> exit_info_wait_since_;
  bool early_armed_ = true;
  std::optional<EarlyCapture> early_;
  // For early_skipped_reason when the late trigger fires alone.
  uint64_t peak_age_ = 0;
  bool early_scanned_ = false;  // at least one runnable_at scan completed
  uint64_t last_threshold_ = 0;
  std::string early_unavailable_;
  uint64_t watchdog_jiffies_seen_ = 0;
  uint32_t hz_seen_ = 0;
  uint64_t published_ = 0;
  std::string last_probe_error_;

  WatchSource* watch_ = nullptr;
  TriggerCaptureFn capture_held_;
  std::string watch_error_;
  uint64_t armed_kva_ = 0;
  uint64_t spurious_hits_ = 0;
  // An error exit seen by polling on the watched word, before its hit arrived.
  std::optional<Clock::time_point> hit_wait_since_;
  std::optional<PendingLate> pending_late_;
};

}  // namespace kfreeze::dump
