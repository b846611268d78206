// Auto-trigger scheduling and dual-report assembly with scripted probes and a synthetic clock.
#include "core/dump/auto_trigger.h"

#include <deque>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using kfreeze::v1::DumpEnvelope;
using Clock = AutoTrigger::Clock;
using std::chrono::milliseconds;

class ScriptedProbes : public TriggerProbes {
 public:
  ScxExitProbe exit{true, 0xffff888001000000, 0};
  absl::Status exit_error;
  RunnableAgeProbe age{1000, 250, 1000, 0, 12};  // HZ=250, watchdog 4 s = 1000 jiffies
  absl::Status age_error;
  absl::StatusOr<ScxExitProbe> ProbeExit() override {
    if (!exit_error.ok()) return exit_error;
    return exit;
  }
  absl::StatusOr<RunnableAgeProbe> ProbeRunnableAge() override {
    if (!age_error.ok()) return age_error;
    return age;
  }
  // ReadExitInfo answers from the front (the last one repeats).
  std::deque<absl::StatusOr<kfreeze::v1::ScxExitInfo>> exit_infos;
  absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(uint64_t) override {
    if (exit_infos.empty()) return absl::FailedPreconditionError("no exit info scripted");
    absl::StatusOr<kfreeze::v1::ScxExitInfo> r = exit_infos.front();
    if (exit_infos.size() > 1) exit_infos.pop_front();
    return r;
  }
};

// The late watchpoint as the engine sees it: arms recorded, hits scripted.
class FakeWatch : public WatchSource {
 public:
  std::vector<uint64_t> arms;
  uint64_t armed = 0;
  absl::Status arm_error;
  std::deque<WatchHit> hits;
  bool held = false;
  int resumes = 0;
  absl::Status Arm(uint64_t kva) override {
    if (!arm_error.ok()) return arm_error;
    arms.push_back(kva);
    armed = kva;
    return absl::OkStatus();
  }
  absl::StatusOr<std::optional<WatchHit>> PollHit() override {
    if (hits.empty()) return std::nullopt;
    held = true;
    WatchHit h = hits.front();
    hits.pop_front();
    return h;
  }
  absl::Status ResumeAfterHit() override {
    if (held) ++resumes;
    held = false;
    return absl::OkStatus();
  }
};

class AutoTriggerTest : public ::testing::Test {
 protected:
  // `probes` defaults to the fixture's scripted probes.
  AutoTrigger Make(TriggerSettings s, TriggerProbes* probes = nullptr) {
    return AutoTrigger(
        s, probes != nullptr ? probes : &probes_,
        [this](kfreeze::v1::Trigger t) -> absl::StatusOr<DumpEnvelope> {
          captures_.push_back(t);
          DumpEnvelope e;
          e.set_target("vm0");
          e.set_trigger(t);
          if (degrade_next_) {
            degrade_next_ = false;
            e.mutable_degraded()->set_schema("degraded");
            e.mutable_degraded()->set_reason("vCPU register read failed: x");
            if (drop_partial_) return e;
            e.mutable_degraded()->mutable_partial()->add_maps()->set_name(
                t == kfreeze::v1::TRIGGER_EARLY ? "early_map" : "late_map");
            return e;
          }
          e.mutable_single()->set_schema("single");
          e.mutable_single()->add_maps()->set_name(t == kfreeze::v1::TRIGGER_EARLY ? "early_map"
                                                                                   : "late_map");
          return e;
        },
        [this](DumpEnvelope e) { published_.push_back(std::move(e)); });
  }

  static TriggerSettings Both() {
    TriggerSettings s;
    s.late_enabled = true;
    s.early_enabled = true;
    s.late_poll = milliseconds(20);
    s.early_poll = milliseconds(250);
    return s;
  }

  // Steps the engine `n` times, advancing the synthetic clock by what it asks for.
  void Run(AutoTrigger& t, int n) {
    for (int i = 0; i < n; ++i) now_ += t.Step(now_);
  }

  ScriptedProbes probes_;
  std::vector<kfreeze::v1::Trigger> captures_;
  std::vector<DumpEnvelope> published_;
  bool degrade_next_ = false;
  bool drop_partial_ = false;  // a degraded capture carries no partial report
  Clock::time_point now_{};
};

TEST_F(AutoTriggerTest, QuietSchedulerNeverCaptures) {
  AutoTrigger t = Make(Both());
  probes_.age.max_age_jiffies = 100;
  Run(t, 100);
  EXPECT_TRUE(captures_.empty());
  EXPECT_TRUE(published_.empty());
}

TEST_F(AutoTriggerTest, EarlyThenLateMakeOneDualReport) {
  AutoTrigger t = Make(Both());
  probes_.age.max_age_jiffies = 501;  // threshold = 1000 / 2
  Run(t, 20);
  ASSERT_EQ(captures_.size(), 1u);
  EXPECT_EQ(captures_[0], kfreeze::v1::TRIGGER_EARLY);
  EXPECT_TRUE(t.holding_early());
  EXPECT_TRUE(published_.empty());
  probes_.exit.exit_kind = 1026;  // SCX_EXIT_ERROR_STALL
  Run(t, 5);
  ASSERT_EQ(captures_.size(), 2u);
  EXPECT_EQ(captures_[1], kfreeze::v1::TRIGGER_LATE);
  ASSERT_EQ(published_.size(), 1u);
  const DumpEnvelope& e = published_[0];
  ASSERT_TRUE(e.has_dual());
  EXPECT_EQ(e.dual().schema(), kSchemaDual);
  EXPECT_EQ(e.dual().early().maps(0).name(), "early_map");
  EXPECT_EQ(e.dual().late().maps(0).name(), "late_map");
  EXPECT_EQ(e.dual().early_max_age_jiffies(), 501u);
  EXPECT_EQ(e.dual().early_threshold_jiffies(), 500u);
  EXPECT_FALSE(e.dual().has_snapshot_tag());
  EXPECT_FALSE(e.dual().has_early_skipped_reason());
  EXPECT_EQ(e.trigger(), kfreeze::v1::TRIGGER_LATE);
  // Still failing: no second report for the same scheduler instance.
  Run(t, 50);
  EXPECT_EQ(published_.size(), 1u);
}

TEST_F(AutoTriggerTest, LateAloneSaysWhyEarlyNeverFired) {
  AutoTrigger t = Make(Both());
  probes_.age.max_age_jiffies = 120;
  Run(t, 30);
  probes_.exit.exit_kind = 1025;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_FALSE(published_[0].dual().has_early());
  EXPECT_EQ(published_[0].dual().early_skipped_reason(),
            "max_age never crossed threshold (peak=120j, threshold=500j)");
}

TEST_F(AutoTriggerTest, MissingScanPrerequisiteIsTheSkipReason) {
  AutoTrigger t = Make(Both());
  probes_.age_error = absl::FailedPreconditionError("scx_tasks not found");
  Run(t, 10);
  probes_.exit.exit_kind = 1024;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().early_skipped_reason(),
            "scan prerequisites unavailable: scx_tasks not found");
}

TEST_F(AutoTriggerTest, CleanExitAfterEarlySuppressesLate) {
  AutoTrigger t = Make(Both());
  probes_.age.max_age_jiffies = 900;
  Run(t, 5);
  ASSERT_TRUE(t.holding_early());
  probes_.exit.exit_kind = 64;  // SCX_EXIT_UNREG: not an error
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().snapshot_tag(), kSnapshotTagEarlyOnlyLateSuppressed);
  const kfreeze::v1::FailureDumpReport& late = published_[0].dual().late();
  EXPECT_TRUE(late.is_placeholder());
  // Every section of the never-taken late side says why, naming the tag.
  const std::string why =
      absl::StrCat(kReasonLateSnapshotNotTakenPrefix, kSnapshotTagEarlyOnlyLateSuppressed);
  EXPECT_EQ(late.scx_walker_unavailable(), why);
  EXPECT_EQ(late.task_enrichments_unavailable(), why);
  EXPECT_EQ(late.probe_counters_unavailable(), kReasonNoProbeLoaded);
  EXPECT_EQ(captures_.size(), 1u);
}

TEST_F(AutoTriggerTest, EnvelopeWithoutAReportBecomesAReasonedPlaceholder) {
  AutoTrigger t = Make(Both());
  degrade_next_ = true;  // the early capture degrades with no partial
  drop_partial_ = true;
  probes_.age.max_age_jiffies = 900;
  Run(t, 5);
  ASSERT_TRUE(t.holding_early());
  probes_.exit.exit_kind = 1026;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  const kfreeze::v1::FailureDumpReport& early = published_[0].dual().early();
  EXPECT_TRUE(early.is_placeholder());
  EXPECT_EQ(early.scx_walker_unavailable(), kReasonNoReportInEnvelope);
  EXPECT_EQ(published_[0].dual().snapshot_tag(), kSnapshotTagEarlyDegraded);
  EXPECT_EQ(published_[0].dual().late().maps(0).name(), "late_map");
}

TEST_F(AutoTriggerTest, LateThatNeverComesPublishesEarlyOnlyAfterTheWait) {
  TriggerSettings s = Both();
  s.late_wait = milliseconds(3000);
  AutoTrigger t = Make(s);
  probes_.age.max_age_jiffies = 900;
  Run(t, 5);
  ASSERT_TRUE(t.holding_early());
  Clock::time_point early_at = now_;
  while (published_.empty() && now_ - early_at < std::chrono::seconds(60)) now_ += t.Step(now_);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_GE(now_ - early_at, milliseconds(3000) - milliseconds(300));
  EXPECT_EQ(published_[0].dual().snapshot_tag(), kSnapshotTagEarlyOnlyLateNeverFired);
  EXPECT_EQ(published_[0].trigger(), kfreeze::v1::TRIGGER_EARLY);
}

TEST_F(AutoTriggerTest, DegradedCapturesAreTagged) {
  AutoTrigger t = Make(Both());
  probes_.age.max_age_jiffies = 900;
  Run(t, 5);
  degrade_next_ = true;  // the late capture degrades
  probes_.exit.exit_kind = 1026;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().snapshot_tag(), kSnapshotTagEarlyPreLateDegraded);
  EXPECT_EQ(published_[0].dual().late().maps(0).name(), "late_map");  // the partial
}

TEST_F(AutoTriggerTest, DegradedLateWithoutEarlyIsPublishedAsIs) {
  TriggerSettings s;
  s.late_enabled = true;
  AutoTrigger t = Make(s);
  degrade_next_ = true;
  probes_.exit.exit_kind = 1026;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_TRUE(published_[0].has_degraded());
}

TEST_F(AutoTriggerTest, NewSchedulerInstanceRearmsTheLateTrigger) {
  TriggerSettings s;
  s.late_enabled = true;
  AutoTrigger t = Make(s);
  probes_.exit.exit_kind = 1026;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().early_skipped_reason(), "early trigger disabled");
  probes_.exit.attached = false;  // ejected
  Run(t, 3);
  probes_.exit = ScxExitProbe{true, 0xffff888002000000, 0};  // a new scheduler loads
  Run(t, 3);
  probes_.exit.exit_kind = 1026;  // and fails too
  Run(t, 3);
  EXPECT_EQ(published_.size(), 2u);
}

TEST_F(AutoTriggerTest, ProbeErrorsAreReportedNotFatal) {
  AutoTrigger t = Make(Both());
  probes_.exit_error = absl::UnavailableError("guest RAM is gone");
  Run(t, 5);
  EXPECT_EQ(t.last_probe_error(), "guest RAM is gone");
  EXPECT_TRUE(published_.empty());
}

TEST_F(AutoTriggerTest, WatchdogOverrideSetsTheThreshold) {
  TriggerSettings s = Both();
  s.watchdog_timeout = milliseconds(2000);  // 500 jiffies at HZ=250 -> threshold 250
  AutoTrigger t = Make(s);
  probes_.age.max_age_jiffies = 300;
  Run(t, 5);
  EXPECT_TRUE(t.holding_early());
}

// The kernel sets exit_kind before it writes scx_exit_info: a late trigger that captured at once
// could publish an error exit without its exit info (scx_stall_e2e: "exit_info {}").
class ExitInfoProbes : public ScriptedProbes {
 public:
  int polls_until_written = 0;
  int polls = 0;
  absl::StatusOr<ScxExitProbe> ProbeExit() override {
    ++polls;
    ScxExitProbe p = exit;
    p.exit_info_written = polls > polls_until_written;
    return p;
  }
};

TEST_F(AutoTriggerTest, LateWaitsUntilTheKernelFinishedWritingExitInfo) {
  ExitInfoProbes probes;
  probes.exit.exit_kind = 1026;
  probes.polls_until_written = 3;
  TriggerSettings s;
  s.late_enabled = true;
  s.late_poll = milliseconds(100);
  AutoTrigger t = Make(s, &probes);
  const milliseconds first = t.Step(now_);
  EXPECT_EQ(first, milliseconds(1)) << "an unwritten exit info is re-polled at once";
  now_ += first;
  Run(t, 2);
  EXPECT_TRUE(captures_.empty()) << "captured before the exit info was written";
  Run(t, 1);
  ASSERT_EQ(captures_.size(), 1u);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_THAT(published_[0].dual().late_exit_info(), ::testing::StartsWith("complete after 3 ms"));
}

TEST_F(AutoTriggerTest, LateSaysWhenExitInfoNeverCompleted) {
  ExitInfoProbes probes;
  probes.exit.exit_kind = 1026;
  probes.polls_until_written = 1000000;
  TriggerSettings s;
  s.late_enabled = true;
  AutoTrigger t = Make(s, &probes);
  Run(t, 200);
  ASSERT_EQ(published_.size(), 1u) << "the wait is bounded and fires once";
  EXPECT_THAT(published_[0].dual().late_exit_info(),
              ::testing::StartsWith("incomplete after 50 ms"));
}

TEST_F(AutoTriggerTest, LateWithWrittenExitInfoFiresAtOnce) {
  AutoTrigger t = Make(Both());
  probes_.exit.exit_kind = 1026;
  Run(t, 1);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().late_exit_info(), "complete when the trigger fired");
}

// --- The late watchpoint ---------------------------------------------------------------------

constexpr uint64_t kSched = 0xffff888001000000;
constexpr uint64_t kExitKindKva = kSched + 0x40;

class WatchTriggerTest : public AutoTriggerTest {
 protected:
  AutoTrigger MakeWatched(TriggerSettings s) {
    AutoTrigger t = Make(s);
    t.SetWatch(&watch_, [this](kfreeze::v1::Trigger trigger) -> absl::StatusOr<DumpEnvelope> {
      ++held_captures_;
      held_while_capturing_ = watch_.held;
      DumpEnvelope e;
      e.set_trigger(trigger);
      if (degrade_next_) {
        e.mutable_degraded()->set_reason("vCPU register read failed: x");
        e.mutable_degraded()->mutable_partial()->add_maps()->set_name("late_map");
        return e;
      }
      e.mutable_single()->add_maps()->set_name("late_map");
      e.mutable_single()->mutable_scx_sched_state()->set_exit_kind(1026);
      return e;
    });
    probes_.exit.exit_kind_kva = kExitKindKva;
    return t;
  }
  static TriggerSettings LateOnly() {
    TriggerSettings s;
    s.late_enabled = true;
    s.late_poll = milliseconds(20);
    return s;
  }
  static kfreeze::v1::ScxExitInfo Info(uint32_t kind, std::string msg) {
    kfreeze::v1::ScxExitInfo i;
    i.set_kind(kind);
    i.set_reason("runnable task stall");
    i.set_msg(std::move(msg));
    return i;
  }
  // The kernel's write: exit_kind turns, the VM stops at it, exit info still unwritten.
  void WriteExitKind(uint32_t vcpu) {
    probes_.exit.exit_kind = 1026;
    probes_.exit.exit_info_written = false;
    watch_.hits.push_back(WatchHit{kExitKindKva, vcpu});
  }

  FakeWatch watch_;
  int held_captures_ = 0;
  bool held_while_capturing_ = false;
};

TEST_F(WatchTriggerTest, HitCapturesAtTheWriteAndCompletesExitInfoAfterTheResume) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 3);
  ASSERT_EQ(watch_.arms, std::vector<uint64_t>{kExitKindKva});
  WriteExitKind(1);
  probes_.exit_infos = {Info(0, ""), Info(0, ""), Info(1026, "stall of pid 42")};
  Run(t, 1);
  EXPECT_EQ(held_captures_, 1);
  EXPECT_TRUE(held_while_capturing_);  // captured with the VM still at the write
  EXPECT_TRUE(captures_.empty());      // no ordinary (stop-sending) capture
  EXPECT_EQ(watch_.armed, 0u);         // removed before the capture resumed the VM
  EXPECT_EQ(watch_.resumes, 1);
  EXPECT_TRUE(published_.empty());  // exit info not written yet
  Run(t, 5);
  ASSERT_EQ(published_.size(), 1u);
  const kfreeze::v1::DualFailureDumpReport& d = published_[0].dual();
  EXPECT_EQ(d.trigger_source(), "watchpoint");
  EXPECT_EQ(d.trigger_vcpu(), 1u);
  EXPECT_EQ(d.late().scx_sched_state().exit_info().msg(), "stall of pid 42");
  EXPECT_EQ(d.late().scx_sched_state().exit_info().kind(), 1026u);
  EXPECT_THAT(d.late_exit_info(), ::testing::StartsWith("complete 2 ms after the resume"));
  EXPECT_THAT(d.late_exit_info(), ::testing::HasSubstr("watchpoint, vCPU 1"));
  // One report per scheduler instance; no watchpoint on an exited scheduler.
  Run(t, 50);
  EXPECT_EQ(published_.size(), 1u);
  EXPECT_EQ(watch_.armed, 0u);
}

TEST_F(WatchTriggerTest, ExitInfoThatNeverCompletesIsSaid) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  WriteExitKind(0);
  probes_.exit_infos = {Info(0, "")};
  Run(t, 100);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_THAT(published_[0].dual().late_exit_info(),
              ::testing::StartsWith("incomplete after 50 ms"));
  EXPECT_EQ(published_[0].dual().trigger_vcpu(), 0u);
}

TEST_F(WatchTriggerTest, SpuriousHitResumesWithoutCapture) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  watch_.hits.push_back(WatchHit{kExitKindKva, 0});  // exit_kind still 0: a reset, a reuse
  Run(t, 3);
  EXPECT_EQ(held_captures_, 0);
  EXPECT_TRUE(captures_.empty());
  EXPECT_EQ(watch_.resumes, 1);
  EXPECT_EQ(watch_.armed, kExitKindKva);
  EXPECT_EQ(t.spurious_hits(), 1u);
  // A hit on memory the scheduler moved away from: re-armed on the new word at the hit.
  probes_.exit.sched_kva = kSched + 0x10000;
  probes_.exit.exit_kind_kva = kSched + 0x10040;
  watch_.hits.push_back(WatchHit{kExitKindKva, 0});
  Run(t, 1);
  EXPECT_EQ(watch_.armed, kSched + 0x10040);
  EXPECT_EQ(watch_.resumes, 2);
  EXPECT_TRUE(published_.empty());
}

TEST_F(WatchTriggerTest, RearmsWhenTheSchedulerChanges) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  probes_.exit.sched_kva = kSched + 0x20000;
  probes_.exit.exit_kind_kva = kSched + 0x20040;
  Run(t, 2);
  probes_.exit.attached = false;
  Run(t, 2);
  EXPECT_EQ(watch_.arms, (std::vector<uint64_t>{kExitKindKva, kSched + 0x20040, 0}));
}

TEST_F(WatchTriggerTest, NoStubMeansPollingWithTriggerSourcePoll) {
  watch_.arm_error = absl::FailedPreconditionError("the VM is paused, not running");
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  EXPECT_EQ(t.watch_error(), "the VM is paused, not running");
  probes_.exit.exit_kind = 1026;
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(captures_.size(), 1u);
  EXPECT_EQ(held_captures_, 0);
  EXPECT_EQ(published_[0].dual().trigger_source(), "poll");
  EXPECT_FALSE(published_[0].dual().has_trigger_vcpu());
}

TEST_F(WatchTriggerTest, PollingWaitsForTheHitItExpects) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  probes_.exit.exit_kind = 1026;  // the poll sees the write before its stop reply is read
  Run(t, 3);
  EXPECT_TRUE(captures_.empty());
  watch_.hits.push_back(WatchHit{kExitKindKva, 1});
  probes_.exit_infos = {Info(1026, "m")};
  Run(t, 3);
  EXPECT_EQ(held_captures_, 1);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().trigger_source(), "watchpoint");
}

TEST_F(WatchTriggerTest, HitThatNeverShowsFallsBackToPolling) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  probes_.exit.exit_kind = 1026;
  Run(t, 40);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].dual().trigger_source(), "poll");
}

TEST_F(WatchTriggerTest, DegradedLateCaptureAtAHitSaysSo) {
  AutoTrigger t = MakeWatched(LateOnly());
  Run(t, 2);
  degrade_next_ = true;
  WriteExitKind(0);
  probes_.exit_infos = {Info(1026, "m")};
  Run(t, 3);
  ASSERT_EQ(published_.size(), 1u);
  ASSERT_TRUE(published_[0].has_degraded());
  EXPECT_TRUE(published_[0].degraded().watchpoint_hit());
  EXPECT_EQ(published_[0].degraded().partial().scx_sched_state().exit_info().msg(), "m");
}

TEST_F(WatchTriggerTest, RateLimitedHitStillResumes) {
  AutoTrigger t = Make(LateOnly());
  t.SetWatch(&watch_, [](kfreeze::v1::Trigger) -> absl::StatusOr<DumpEnvelope> {
    return absl::ResourceExhaustedError("rate limit");
  });
  probes_.exit.exit_kind_kva = kExitKindKva;
  Run(t, 2);
  WriteExitKind(0);
  Run(t, 1);  // the runner logs last_probe_error after each Step
  EXPECT_EQ(watch_.resumes, 1);
  EXPECT_TRUE(published_.empty());
  EXPECT_THAT(t.last_probe_error(), ::testing::HasSubstr("rate limit"));
}

}  // namespace
}  // namespace kfreeze::dump
