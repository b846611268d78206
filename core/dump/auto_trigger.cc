#include "core/dump/auto_trigger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/reasons.h"
#include "core/base/stopwatch.h"
#include "core/report/placeholder.h"

namespace kfreeze::dump {
namespace {

using kfreeze::v1::DualFailureDumpReport;
using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpReport;

// Used for the late wait when neither the settings nor the guest tell the watchdog timeout.
constexpr std::chrono::milliseconds kFallbackLateWait{30000};
// The kernel writes scx_exit_info within microseconds of exit_kind (same function, no sleep);
// the disable work that may tear the scheduler down runs soon after, so the wait stays short.
constexpr std::chrono::milliseconds kExitInfoPoll{1};
constexpr std::chrono::milliseconds kExitInfoWaitMax{50};
// Polling saw the error on the watched word: the stop reply is normally already on its way.
constexpr std::chrono::milliseconds kHitWaitMax{20};

// The report an envelope carries as a FailureDumpReport: the single one, or a degraded one's
// partial (with `degraded` set so the caller can tag it).
FailureDumpReport ReportOf(const DumpEnvelope& e, bool* degraded) {
  *degraded = e.has_degraded();
  if (e.has_single()) return e.single();
  if (e.has_degraded() && e.degraded().has_partial()) return e.degraded().partial();
  return report::MakePlaceholderReport(std::string(kReasonNoReportInEnvelope));
}

}  // namespace

AutoTrigger::AutoTrigger(TriggerSettings settings, TriggerProbes* probes, TriggerCaptureFn capture,
                         TriggerPublishFn publish)
    : settings_(settings),
      probes_(probes),
      capture_(std::move(capture)),
      publish_(std::move(publish)) {}

void AutoTrigger::SetWatch(WatchSource* watch, TriggerCaptureFn capture_held) {
  watch_ = watch;
  capture_held_ = std::move(capture_held);
}

std::chrono::milliseconds AutoTrigger::LateWait() const {
  if (settings_.late_wait.count() > 0) return settings_.late_wait;
  if (settings_.watchdog_timeout.count() > 0) return 4 * settings_.watchdog_timeout;
  if (watchdog_jiffies_seen_ > 0 && hz_seen_ > 0) {
    return std::chrono::milliseconds(4 * watchdog_jiffies_seen_ * 1000 / hz_seen_);
  }
  return kFallbackLateWait;
}

std::chrono::milliseconds AutoTrigger::Step(Clock::time_point now) {
  if (probes_ == nullptr) return std::chrono::milliseconds(1000);
  // Late first: the error exit is visible only until the disable work detaches the scheduler, so
  // its cheap poll must not wait behind an early capture.
  if (settings_.late_enabled && pending_late_) {
    if (now >= next_late_) {
      next_late_ = now + (CompletePendingLate(now) ? kExitInfoPoll : settings_.late_poll);
    }
  } else if (settings_.late_enabled) {
    if (PollWatch(now)) {
      // A hit was handled (its errors stay visible to the caller until the next poll).
      next_late_ = now + (pending_late_ ? kExitInfoPoll : settings_.late_poll);
    } else if (now >= next_late_) {
      next_late_ = now + (PollLate(now) ? kExitInfoPoll : settings_.late_poll);
    }
  }
  if (settings_.early_enabled && now >= next_early_) {
    PollEarly(now);
    next_early_ = now + settings_.early_poll;
  }
  if (early_ && now - early_->at >= LateWait()) {
    PublishEarlyOnly(kSnapshotTagEarlyOnlyLateNeverFired);
  }
  Clock::time_point next = now + std::chrono::milliseconds(1000);
  if (settings_.late_enabled) next = std::min(next, next_late_);
  if (settings_.early_enabled) next = std::min(next, next_early_);
  if (early_) next = std::min(next, early_->at + LateWait());
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
  return std::max(wait, std::chrono::milliseconds(1));
}

bool AutoTrigger::PollLate(Clock::time_point now) {
  absl::StatusOr<ScxExitProbe> probe = probes_->ProbeExit();
  if (!probe.ok()) {
    last_probe_error_ = std::string(probe.status().message());
    return false;
  }
  last_probe_error_.clear();
  if (!probe->attached) {
    // The scheduler is gone without an error exit we saw: no late capture will come for it.
    if (early_) PublishEarlyOnly(kSnapshotTagEarlyOnlyLateNeverFired);
    late_armed_ = true;
    fired_sched_kva_ = 0;
    exit_info_wait_since_.reset();
    hit_wait_since_.reset();
    SyncWatch(*probe);
    return false;
  }
  if (probe->exit_kind >= kScxExitError) {
    if (!late_armed_) {
      SyncWatch(*probe);
      return false;
    }
    const bool watched = WatchUsable() && armed_kva_ != 0 && armed_kva_ == probe->exit_kind_kva;
    if (watched) {
      // The write stopped the VM; its stop reply is due (PollWatch runs before every poll).
      if (!hit_wait_since_) hit_wait_since_ = now;
      if (MillisBetween(*hit_wait_since_, now) < static_cast<uint64_t>(kHitWaitMax.count())) {
        return true;
      }
    }
    hit_wait_since_.reset();
    std::string note = "complete when the trigger fired";
    if (exit_info_wait_since_ || !probe->exit_info_written) {
      if (!exit_info_wait_since_) exit_info_wait_since_ = now;
      const uint64_t waited = MillisBetween(*exit_info_wait_since_, now);
      const auto wait_max = static_cast<uint64_t>(kExitInfoWaitMax.count());
      if (!probe->exit_info_written && waited < wait_max) return true;
      note = probe->exit_info_written
                 ? absl::StrCat("complete after ", waited,
                                " ms: the kernel was still writing it when exit_kind turned")
                 : absl::StrCat("incomplete after ", waited,
                                " ms: exit_info.kind never matched exit_kind ", probe->exit_kind);
      exit_info_wait_since_.reset();
    }
    FireLate(*probe, std::move(note));
    if (watched) {
      // The hit never showed: if the VM still stands at it, it is ours to resume.
      if (absl::Status s = watch_->ResumeAfterHit(); !s.ok()) {
        last_probe_error_ = absl::StrCat("watchpoint resume: ", s.message());
      }
    }
    SyncWatch(*probe);
    return false;
  }
  hit_wait_since_.reset();
  if (!late_armed_ && probe->sched_kva != fired_sched_kva_) late_armed_ = true;
  SyncWatch(*probe);
  // A clean exit (SCX_EXIT_DONE, UNREG*): the late gate suppresses the capture.
  if (probe->exit_kind != 0 && early_) PublishEarlyOnly(kSnapshotTagEarlyOnlyLateSuppressed);
  return false;
}

void AutoTrigger::SyncWatch(const ScxExitProbe& probe) {
  const bool wanted = probe.attached && probe.exit_kind == 0 && late_armed_;
  ArmWatch(wanted ? probe.exit_kind_kva : 0);
}

void AutoTrigger::ArmWatch(uint64_t kva) {
  if (!WatchUsable() || kva == armed_kva_) return;
  if (absl::Status s = watch_->Arm(kva); !s.ok()) {
    watch_error_ = std::string(s.message());
    if (watch_error_.empty()) watch_error_ = s.ToString();
    armed_kva_ = 0;
    return;
  }
  armed_kva_ = kva;
}

bool AutoTrigger::PollWatch(Clock::time_point now) {
  if (!WatchUsable()) return false;
  absl::StatusOr<std::optional<WatchHit>> hit = watch_->PollHit();
  if (!hit.ok()) {
    watch_error_ = absl::StrCat("watchpoint lost: ", hit.status().message());
    armed_kva_ = 0;
    return false;
  }
  if (!*hit) return false;
  HandleHit(**hit, now);
  return true;
}

void AutoTrigger::HandleHit(const WatchHit& hit, Clock::time_point now) {
  absl::StatusOr<ScxExitProbe> probe = probes_->ProbeExit();
  const bool real = probe.ok() && probe->attached && probe->exit_kind >= kScxExitError &&
                    late_armed_ && armed_kva_ != 0 && probe->exit_kind_kva == armed_kva_ &&
                    hit.addr == armed_kva_;
  if (!real) {
    // A reset of exit_kind, a freed and reused scheduler object, a stale watchpoint: move the
    // watchpoint to where it belongs now (the VM still held) and let the guest go on.
    ++spurious_hits_;
    if (probe.ok()) SyncWatch(*probe);
    if (absl::Status s = watch_->ResumeAfterHit(); !s.ok()) {
      watch_error_ = absl::StrCat("resume after a spurious watch hit: ", s.message());
    }
    return;
  }
  hit_wait_since_.reset();
  exit_info_wait_since_.reset();
  late_armed_ = false;
  fired_sched_kva_ = probe->sched_kva;
  ArmWatch(0);  // before the capture resumes the VM: one hit per scheduler instance
  const TriggerCaptureFn& capture = capture_held_ ? capture_held_ : capture_;
  absl::StatusOr<DumpEnvelope> late = capture(kfreeze::v1::TRIGGER_LATE);
  // A capture that did not run (rate limit) or walked without resuming leaves the VM at the hit.
  if (absl::Status s = watch_->ResumeAfterHit(); !s.ok()) {
    last_probe_error_ = absl::StrCat("watchpoint resume: ", s.message());
  }
  if (!late.ok()) {
    last_probe_error_ = absl::StrCat("late capture: ", late.status().message());
    return;
  }
  pending_late_ = PendingLate{*std::move(late), now, probe->sched_kva, probe->exit_kind, hit.vcpu};
  // First look right away: the kernel may have finished already (it runs once resumed).
  (void)CompletePendingLate(now);
}

bool AutoTrigger::CompletePendingLate(Clock::time_point now) {
  PendingLate& p = *pending_late_;
  absl::StatusOr<kfreeze::v1::ScxExitInfo> info = probes_->ReadExitInfo(p.sched_kva);
  const bool complete = info.ok() && info->kind() == p.exit_kind;
  const uint64_t waited = MillisBetween(p.resumed_at, now);
  const bool retry = !complete && waited < static_cast<uint64_t>(kExitInfoWaitMax.count()) &&
                     (info.ok() || absl::IsDeadlineExceeded(info.status()) ||
                      absl::IsUnavailable(info.status()) || absl::IsOutOfRange(info.status()));
  if (retry) return true;

  FailureDumpReport* report = nullptr;
  DumpEnvelope& e = p.envelope;
  if (e.has_single()) report = e.mutable_single();
  if (e.has_degraded()) {
    e.mutable_degraded()->set_watchpoint_hit(true);
    if (e.degraded().has_partial()) report = e.mutable_degraded()->mutable_partial();
  }
  if (report != nullptr && info.ok() && info->kind() != 0) {
    *report->mutable_scx_sched_state()->mutable_exit_info() = *info;
  }
  std::string vcpu = p.vcpu ? absl::StrCat("vCPU ", *p.vcpu) : "vCPU unknown";
  std::string state;
  if (complete) {
    state = absl::StrCat("complete ", waited, " ms after the resume");
  } else if (info.ok()) {
    state = absl::StrCat("incomplete after ", waited, " ms: exit_info.kind ", info->kind(),
                         " never matched exit_kind ", p.exit_kind);
  } else {
    state = absl::StrCat("unread after ", waited, " ms: ", info.status().message());
  }
  std::string note =
      absl::StrCat(state, "; registers and stacks at the exit_kind write (watchpoint, ", vcpu,
                   "), exit info re-read after the resume");
  LateSource source{"watchpoint", p.vcpu};
  DumpEnvelope late = std::move(p.envelope);
  pending_late_.reset();
  PublishLate(std::move(late), std::move(note), std::move(source));
  return false;
}

void AutoTrigger::PollEarly(Clock::time_point now) {
  if (early_) return;
  absl::StatusOr<RunnableAgeProbe> probe = probes_->ProbeRunnableAge();
  if (!probe.ok()) {
    early_unavailable_ = std::string(probe.status().message());
    return;
  }
  hz_seen_ = probe->hz;
  watchdog_jiffies_seen_ = probe->watchdog_timeout_jiffies;
  uint64_t watchdog = probe->watchdog_timeout_jiffies;
  if (settings_.watchdog_timeout.count() > 0 && probe->hz > 0) {
    watchdog = static_cast<uint64_t>(settings_.watchdog_timeout.count()) * probe->hz / 1000;
  }
  if (watchdog == 0) {
    early_unavailable_ = "watchdog timeout unknown (set triggers.watchdog_timeout_ms)";
    return;
  }
  early_unavailable_.clear();
  early_scanned_ = true;
  uint64_t threshold = watchdog / 2;
  last_threshold_ = threshold;
  peak_age_ = std::max(peak_age_, probe->max_age_jiffies);
  if (!early_armed_) {
    if (probe->max_age_jiffies < threshold / 2) early_armed_ = true;
    return;
  }
  if (probe->max_age_jiffies <= threshold) return;
  absl::StatusOr<DumpEnvelope> captured = capture_(kfreeze::v1::TRIGGER_EARLY);
  if (!captured.ok()) {
    last_probe_error_ = absl::StrCat("early capture: ", captured.status().message());
    return;
  }
  early_ = EarlyCapture{std::move(*captured), now, probe->max_age_jiffies, threshold};
  early_armed_ = false;
}

std::string AutoTrigger::EarlySkippedReason() const {
  if (!settings_.early_enabled) return std::string(kReasonEarlyTriggerDisabled);
  if (!early_unavailable_.empty()) {
    return absl::StrCat(kReasonEarlyScanPrerequisitesPrefix, early_unavailable_);
  }
  if (!early_scanned_) return std::string(kReasonEarlyScanNeverCompleted);
  return absl::StrFormat("%s (peak=%dj, threshold=%dj)", kReasonEarlyMaxAgeNeverCrossedPrefix,
                         peak_age_, last_threshold_);
}

void AutoTrigger::FireLate(const ScxExitProbe& probe, std::string exit_info_note) {
  late_armed_ = false;
  fired_sched_kva_ = probe.sched_kva;
  absl::StatusOr<DumpEnvelope> late = capture_(kfreeze::v1::TRIGGER_LATE);
  if (!late.ok()) {
    last_probe_error_ = absl::StrCat("late capture: ", late.status().message());
    return;
  }
  PublishLate(*std::move(late), std::move(exit_info_note), LateSource{"poll", std::nullopt});
}

void AutoTrigger::PublishLate(DumpEnvelope late_envelope, std::string exit_info_note,
                              LateSource source) {
  absl::StatusOr<DumpEnvelope> late = std::move(late_envelope);
  if (late->has_degraded() && !early_) {
    publish_(std::move(*late));
    ++published_;
    return;
  }
  DumpEnvelope out = *late;
  DualFailureDumpReport dual;
  dual.set_schema(std::string(kSchemaDual));
  bool late_degraded = false;
  *dual.mutable_late() = ReportOf(*late, &late_degraded);
  dual.set_late_exit_info(std::move(exit_info_note));
  dual.set_trigger_source(source.source);
  if (source.vcpu) dual.set_trigger_vcpu(*source.vcpu);
  if (early_) {
    bool early_degraded = false;
    *dual.mutable_early() = ReportOf(early_->envelope, &early_degraded);
    dual.set_early_max_age_jiffies(early_->max_age);
    dual.set_early_threshold_jiffies(early_->threshold);
    if (early_degraded) {
      dual.set_snapshot_tag(std::string(kSnapshotTagEarlyDegraded));
    } else if (late_degraded) {
      dual.set_snapshot_tag(std::string(kSnapshotTagEarlyPreLateDegraded));
    }
    early_.reset();
  } else {
    dual.set_early_skipped_reason(EarlySkippedReason());
  }
  early_armed_ = true;  // a new cycle starts with the next scheduler
  *out.mutable_dual() = std::move(dual);
  publish_(std::move(out));
  ++published_;
}

void AutoTrigger::PublishEarlyOnly(absl::string_view tag) {
  if (!early_) return;
  DumpEnvelope out = early_->envelope;
  DualFailureDumpReport dual;
  dual.set_schema(std::string(kSchemaDual));
  bool early_degraded = false;
  *dual.mutable_early() = ReportOf(early_->envelope, &early_degraded);
  *dual.mutable_late() =
      report::MakePlaceholderReport(absl::StrCat(kReasonLateSnapshotNotTakenPrefix, tag));
  dual.set_early_max_age_jiffies(early_->max_age);
  dual.set_early_threshold_jiffies(early_->threshold);
  dual.set_snapshot_tag(std::string(early_degraded ? kSnapshotTagEarlyDegraded : tag));
  *out.mutable_dual() = std::move(dual);
  early_.reset();
  publish_(std::move(out));
  ++published_;
}

}  // namespace kfreeze::dump
