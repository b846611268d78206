// Freeze coordination: attach caching and failures, coalescing, parallel targets, keep_paused,
// archive + stream after the capture, shutdown.
#include "server/daemon/freeze_coordinator.h"

#include <atomic>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_attachment.h"
#include "tests/server/fake_vmm_control.h"
#include "tests/support/temp_dir.h"

namespace kfreeze::server {
namespace {

using kfreeze::testing::FakeAttachment;
using kfreeze::testing::FakeVmmControl;
using kfreeze::testing::ForwardingControl;
using kfreeze::testing::OneMapPhase;
using kfreeze::testing::TempDir;
using kfreeze::v1::FreezeRequest;

// Bound for "eventually": reaching it is a failure, not a timing claim.
constexpr absl::Duration kEventually = absl::Seconds(20);

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto a = DumpArchive::Open(dir_, {});
    ASSERT_TRUE(a.ok());
    archive_ = std::move(*a);
    bus_ = std::make_unique<DumpBus>(16);
  }
  void TearDown() override { coordinator_.reset(); }

  // Targets named "bad*" fail to attach; others get `phases_for(name)`.
  void Make(std::function<dump::PhaseTable(const std::string&)> phases_for) {
    dump::Attacher attacher = [this, phases_for](const dump::AttachSpec& spec)
        -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      ++attaches_;
      if (spec.name.rfind("bad", 0) == 0) return absl::NotFoundError("no VMCOREINFO note");
      return std::make_shared<FakeAttachment>("7.2.0-test", phases_for(spec.name));
    };
    ControlFactory factory =
        [this](const std::string& socket,
               std::chrono::milliseconds) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
      if (socket == "/gone.sock") return absl::UnavailableError("connect: no such file");
      return std::unique_ptr<dump::VmmControl>(new ForwardingControl(&vmm_));
    };
    coordinator_ = std::make_unique<FreezeCoordinator>(attacher, factory, archive_.get(),
                                                       bus_.get(), FreezeDefaults{});
  }

  // A coordinator over `attacher` whose every control channel forwards to vmm_.
  void MakeWith(dump::Attacher attacher) {
    ControlFactory factory =
        [this](const std::string&,
               std::chrono::milliseconds) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
      return std::unique_ptr<dump::VmmControl>(new ForwardingControl(&vmm_));
    };
    coordinator_ = std::make_unique<FreezeCoordinator>(std::move(attacher), factory, archive_.get(),
                                                       bus_.get(), FreezeDefaults{});
  }

  kfreeze::v1::TargetConfig Target(const std::string& name, const std::string& qmp = "/qmp.sock") {
    kfreeze::v1::TargetConfig t;
    t.set_name(name);
    t.set_ram_path("/dev/shm/" + name);
    t.set_qmp_socket(qmp);
    (*t.mutable_labels())["vm"] = name;
    return t;
  }

  static FreezeRequest Request(const std::string& target) {
    FreezeRequest r;
    r.set_target(target);
    return r;
  }

  const TempDir tmp_{"kfreeze-coord-test"};
  const std::string dir_ = tmp_.path();
  std::unique_ptr<DumpArchive> archive_;
  std::unique_ptr<DumpBus> bus_;
  FakeVmmControl vmm_;
  std::atomic<int> attaches_{0};
  std::unique_ptr<FreezeCoordinator> coordinator_;
};

TEST_F(CoordinatorTest, FreezeArchivesPublishesAndCachesTheAttach) {
  Make([](const std::string& name) { return dump::PhaseTable{OneMapPhase(name + "_map")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  auto watcher = bus_->Subscribe({});
  FreezeRequest req = Request("vm0");
  (*req.mutable_labels())["test"] = "t1";
  auto r1 = coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->dump_id(), "vm0-000001");
  EXPECT_FALSE(r1->coalesced());
  const auto& e = r1->envelope();
  EXPECT_EQ(e.target(), "vm0");
  EXPECT_EQ(e.kernel_release(), "7.2.0-test");
  EXPECT_EQ(e.trigger(), kfreeze::v1::TRIGGER_RPC);
  EXPECT_EQ(e.labels().at("test"), "t1");
  EXPECT_EQ(e.labels().at("vm"), "vm0");  // target labels merged
  ASSERT_TRUE(e.has_single());
  EXPECT_EQ(e.single().maps(0).name(), "vm0_map");
  EXPECT_EQ(e.single().vcpu_regs(0).regs().ip_symbol(), "fake_sym+0x16");
  EXPECT_EQ(r1->timings_size(), e.timings_size());
  EXPECT_EQ(vmm_.count("stop"), 1);
  EXPECT_EQ(vmm_.count("cont"), 1);
  // Archived, streamed, and the target remembers it.
  EXPECT_TRUE(archive_->Get("vm0-000001").ok());
  auto ev = watcher->Next(kEventually);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->summary().dump_id(), "vm0-000001");
  auto t = coordinator_->GetTarget("vm0");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->state(), kfreeze::v1::TARGET_STATE_ATTACHED);
  EXPECT_EQ(t->last_dump_id(), "vm0-000001");
  EXPECT_EQ(t->dumps_taken(), 1u);
  EXPECT_EQ(t->kernel_release(), "7.2.0-test");
  // A second freeze reuses the attachment.
  ASSERT_TRUE(coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC).ok());
  EXPECT_EQ(attaches_.load(), 1);
}

TEST_F(CoordinatorTest, FailedAttachIsListedWithItsErrorAndFreezeSaysWhy) {
  Make([](const std::string&) { return dump::PhaseTable{}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("bad0"), "rpc", false).ok());
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm1"), "rpc", false).ok());
  coordinator_->WaitForAttach("bad0");
  coordinator_->WaitForAttach("vm1");  // under load vm1 may still be attaching when bad0 failed
  auto listed = coordinator_->ListTargets();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].name(), "bad0");
  EXPECT_EQ(listed[0].state(), kfreeze::v1::TARGET_STATE_FAILED);
  EXPECT_THAT(listed[0].last_error(), ::testing::HasSubstr("no VMCOREINFO note"));
  auto r = coordinator_->Freeze(Request("bad0"), kfreeze::v1::TRIGGER_RPC);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status()));
  EXPECT_EQ(vmm_.count("stop"), 0);  // never paused a VM it cannot read
  // Other targets keep working.
  EXPECT_TRUE(coordinator_->Freeze(Request("vm1"), kfreeze::v1::TRIGGER_RPC).ok());
  EXPECT_TRUE(
      absl::IsNotFound(coordinator_->Freeze(Request("nope"), kfreeze::v1::TRIGGER_RPC).status()));
}

TEST_F(CoordinatorTest, ConcurrentFreezesOnOneTargetShareOneCapture) {
  absl::Notification walking, release;
  Make([&](const std::string&) {
    return dump::PhaseTable{OneMapPhase("m", [&](dump::PhaseContext& ctx) {
      if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
      walking.Notify();
      release.WaitForNotificationWithTimeout(kEventually);
      return absl::OkStatus();
    })};
  });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  std::vector<absl::StatusOr<kfreeze::v1::FreezeResponse>> results(4);
  std::vector<std::thread> callers;
  callers.emplace_back(
      [&] { results[0] = coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC); });
  ASSERT_TRUE(walking.WaitForNotificationWithTimeout(kEventually));
  for (int i = 1; i < 4; ++i) {
    callers.emplace_back(
        [&, i] { results[i] = coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC); });
  }
  absl::Time give_up = absl::Now() + kEventually;
  while (coordinator_->JoinersInFlight("vm0") < 3 && absl::Now() < give_up)
    absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(coordinator_->JoinersInFlight("vm0"), 3);
  release.Notify();
  for (auto& c : callers) c.join();
  int coalesced = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->dump_id(), "vm0-000001");
    coalesced += r->coalesced();
  }
  EXPECT_EQ(coalesced, 3);
  EXPECT_EQ(vmm_.count("stop"), 1);
  EXPECT_EQ(archive_->count(), 1u);
}

TEST_F(CoordinatorTest, DifferentTargetsFreezeInParallel) {
  absl::Notification b_done;
  std::atomic<bool> a_saw_b{false};
  Make([&](const std::string& name) {
    if (name == "vmA") {
      // vmA's walk finishes only after vmB's whole freeze did: serial freezes would deadlock.
      return dump::PhaseTable{OneMapPhase("a", [&](dump::PhaseContext&) {
        a_saw_b = b_done.WaitForNotificationWithTimeout(kEventually);
        return absl::OkStatus();
      })};
    }
    return dump::PhaseTable{OneMapPhase("b")};
  });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vmA", ""), "config", false).ok());
  ASSERT_TRUE(coordinator_->AddTarget(Target("vmB", ""), "config", false).ok());
  coordinator_->WaitForAttach("vmA");
  coordinator_->WaitForAttach("vmB");
  std::thread a(
      [&] { EXPECT_TRUE(coordinator_->Freeze(Request("vmA"), kfreeze::v1::TRIGGER_RPC).ok()); });
  auto b = coordinator_->Freeze(Request("vmB"), kfreeze::v1::TRIGGER_RPC);
  b_done.Notify();
  a.join();
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(a_saw_b);
  EXPECT_TRUE(b->envelope().live());  // no qmp socket configured: live dump
}

TEST_F(CoordinatorTest, KeepPausedThenResumeTarget) {
  Make([](const std::string&) { return dump::PhaseTable{OneMapPhase("m")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  FreezeRequest req = Request("vm0");
  req.set_keep_paused(true);
  ASSERT_TRUE(coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC).ok());
  EXPECT_EQ(vmm_.count("cont"), 0);
  EXPECT_EQ(coordinator_->GetTarget("vm0")->state(), kfreeze::v1::TARGET_STATE_PAUSED);
  auto resumed = coordinator_->Resume("vm0");
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->state(), kfreeze::v1::TARGET_STATE_ATTACHED);
  EXPECT_EQ(vmm_.count("cont"), 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(coordinator_->Resume("vm0").status()));
}

TEST_F(CoordinatorTest, ShutdownResumesPausedVmsAndRefusesNewFreezes) {
  Make([](const std::string&) { return dump::PhaseTable{OneMapPhase("m")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  FreezeRequest req = Request("vm0");
  req.set_keep_paused(true);
  ASSERT_TRUE(coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC).ok());
  coordinator_->Shutdown();
  EXPECT_EQ(vmm_.count("cont"), 1);
  EXPECT_TRUE(
      absl::IsUnavailable(coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC).status()));
}

TEST_F(CoordinatorTest, ShutdownCutsALongWalkShortAndStillResumes) {
  absl::Notification walking;
  std::atomic<bool> saw_cancel{false};
  Make([&](const std::string&) {
    return dump::PhaseTable{OneMapPhase("m", [&](dump::PhaseContext& ctx) {
      if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
      walking.Notify();
      // A walker that checks its deadline between items, as every walker must.
      absl::Time give_up = absl::Now() + kEventually;
      while (!ctx.deadline().Expired() && absl::Now() < give_up)
        absl::SleepFor(absl::Milliseconds(1));
      saw_cancel = ctx.deadline().Cancelled();
      return absl::OkStatus();
    })};
  });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  FreezeRequest req = Request("vm0");
  req.set_deadline_ms(600000);
  absl::StatusOr<kfreeze::v1::FreezeResponse> r;
  std::thread caller([&] { r = coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC); });
  ASSERT_TRUE(walking.WaitForNotificationWithTimeout(kEventually));
  coordinator_->Shutdown();  // returns only once the capture finished
  caller.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(vmm_.count("cont"), 1);
  EXPECT_TRUE(saw_cancel);
}

TEST_F(CoordinatorTest, ShutdownResumesAVmPausedMidWalkAtOnce) {
  // The walker is stuck in a read and never looks at its deadline: the VM must run again while it
  // is still stuck, not ten minutes later at the hard deadline.
  absl::Notification walking;
  std::atomic<bool> saw_cont_while_walking{false};
  Make([&](const std::string&) {
    return dump::PhaseTable{OneMapPhase("m", [&](dump::PhaseContext& ctx) {
      if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
      walking.Notify();
      saw_cont_while_walking = vmm_.WaitFor("cont", absl::ToChronoMilliseconds(kEventually));
      return absl::OkStatus();
    })};
  });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  FreezeRequest req = Request("vm0");
  req.set_deadline_ms(600000);
  req.set_keep_paused(true);
  absl::StatusOr<kfreeze::v1::FreezeResponse> r;
  std::thread caller([&] { r = coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC); });
  ASSERT_TRUE(walking.WaitForNotificationWithTimeout(kEventually));
  coordinator_->Shutdown();
  caller.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(saw_cont_while_walking);
  EXPECT_EQ(vmm_.count("cont"), 1);
  EXPECT_EQ(vmm_.status(), "running");
}

TEST_F(CoordinatorTest, AVmSomeoneElsePausedStaysTheirs) {
  Make([](const std::string&) { return dump::PhaseTable{OneMapPhase("m")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  vmm_.SetStatus("paused");  // an operator's `stop`
  FreezeRequest req = Request("vm0");
  req.set_keep_paused(true);
  auto r = coordinator_->Freeze(req, kfreeze::v1::TRIGGER_RPC);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->envelope().vm_already_paused());
  EXPECT_FALSE(r->envelope().live());
  EXPECT_EQ(coordinator_->GetTarget("vm0")->state(), kfreeze::v1::TARGET_STATE_ATTACHED);
  // Not kfreeze's pause: ResumeTarget refuses, and neither it nor shutdown sends `cont`.
  EXPECT_TRUE(absl::IsFailedPrecondition(coordinator_->Resume("vm0").status()));
  coordinator_->Shutdown();
  EXPECT_EQ(vmm_.count("stop"), 0);
  EXPECT_EQ(vmm_.count("cont"), 0);
  EXPECT_EQ(vmm_.status(), "paused");
  EXPECT_TRUE(archive_->Get(r->dump_id()).ok());
}

TEST_F(CoordinatorTest, AFreezeOfAVmWeKeptPausedResumesIt) {
  Make([](const std::string&) { return dump::PhaseTable{OneMapPhase("m")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  FreezeRequest keep = Request("vm0");
  keep.set_keep_paused(true);
  ASSERT_TRUE(coordinator_->Freeze(keep, kfreeze::v1::TRIGGER_RPC).ok());
  EXPECT_EQ(vmm_.status(), "paused");
  auto r = coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->envelope().vm_already_paused());  // our own pause
  EXPECT_EQ(vmm_.status(), "running");
  EXPECT_EQ(coordinator_->GetTarget("vm0")->state(), kfreeze::v1::TARGET_STATE_ATTACHED);
}

TEST_F(CoordinatorTest, UnreachableQmpGivesADegradedLiveDump) {
  Make([](const std::string&) { return dump::PhaseTable{OneMapPhase("m")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0", "/gone.sock"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  auto r = coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->envelope().has_degraded());
  EXPECT_THAT(r->envelope().degraded().reason(),
              ::testing::StartsWith(std::string(kReasonPauseFailed)));
  EXPECT_THAT(r->envelope().degraded().reason(), ::testing::HasSubstr("no such file"));
  EXPECT_EQ(r->envelope().degraded().partial().maps(0).name(), "m");
  EXPECT_TRUE(archive_->Get(r->dump_id()).ok());
}

// A scheduler that is already in error: the late trigger fires on its first poll.
class FailedSchedulerProbes : public dump::TriggerProbes {
 public:
  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override {
    ++polls;
    return dump::ScxExitProbe{true, 0xffff888001000000, 1026};
  }
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    return absl::FailedPreconditionError("no runnable_at offsets");
  }
  std::atomic<int> polls{0};
};

TEST_F(CoordinatorTest, AutoTriggerPublishesADualReportWithoutAnyFreezeCall) {
  FailedSchedulerProbes probes;
  // The trigger runner's thread reads `probes` until the coordinator is gone: stop it first.
  absl::Cleanup stop_first = [this] { coordinator_.reset(); };
  dump::Attacher attacher =
      [&](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
    return std::make_shared<FakeAttachment>("7.2.0-test", dump::PhaseTable{OneMapPhase("m")},
                                            &probes);
  };
  MakeWith(attacher);
  WatchFilter duals;
  duals.schemas = {"dual"};
  auto watcher = bus_->Subscribe(duals);
  kfreeze::v1::TargetConfig t = Target("vm0");
  t.mutable_triggers()->set_late_enabled(true);
  t.mutable_triggers()->set_early_enabled(true);
  t.mutable_triggers()->set_late_poll_ms(5);
  ASSERT_TRUE(coordinator_->AddTarget(t, "config", false).ok());
  auto ev = watcher->Next(kEventually);
  ASSERT_TRUE(ev.has_value());
  auto dump = archive_->Get(ev->summary().dump_id());
  ASSERT_TRUE(dump.ok());
  ASSERT_TRUE(dump->has_dual());
  EXPECT_EQ(dump->trigger(), kfreeze::v1::TRIGGER_LATE);
  EXPECT_EQ(dump->dual().late().maps(0).name(), "m");
  // The late trigger fired on the very first poll, before any early scan.
  EXPECT_EQ(dump->dual().early_skipped_reason(),
            "early scan never completed before the late trigger fired");
  EXPECT_EQ(vmm_.count("stop"), 1);
  EXPECT_EQ(vmm_.count("cont"), 1);
  EXPECT_EQ(archive_->count(), 1u);  // one stall, one report
}

// RemoveTarget while the target's auto-trigger is mid-capture: it returns only once that capture
// was published and the VM runs again, and the runner neither polls nor publishes afterwards.
TEST_F(CoordinatorTest, RemoveTargetWaitsForATriggerCaptureInFlightThenStopsPolling) {
  FailedSchedulerProbes probes;
  // The trigger runner's thread reads `probes` until the coordinator is gone: stop it first.
  absl::Cleanup stop_first = [this] { coordinator_.reset(); };
  absl::Notification walking, release;
  dump::Attacher attacher =
      [&](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
    return std::make_shared<FakeAttachment>(
        "7.2.0-test",
        dump::PhaseTable{OneMapPhase("m",
                                     [&](dump::PhaseContext& ctx) {
                                       if (ctx.stage() == "decode")
                                         return absl::OkStatus();  // hooks watch the window
                                       walking.Notify();
                                       release.WaitForNotificationWithTimeout(kEventually);
                                       return absl::OkStatus();
                                     })},
        &probes);
  };
  MakeWith(attacher);
  kfreeze::v1::TargetConfig t = Target("vm0");
  t.set_event_sampling_off(true);
  t.mutable_triggers()->set_late_enabled(true);
  t.mutable_triggers()->set_late_poll_ms(5);
  ASSERT_TRUE(coordinator_->AddTarget(t, "config", false).ok());
  ASSERT_TRUE(walking.WaitForNotificationWithTimeout(kEventually));  // the late trigger fired

  size_t archived_at_return = 0;
  std::string status_at_return;
  int polls_at_return = 0;
  std::thread remover([&] {
    EXPECT_TRUE(coordinator_->RemoveTarget("vm0").ok());
    archived_at_return = archive_->count();
    status_at_return = vmm_.status();
    polls_at_return = probes.polls.load();
  });
  release.Notify();
  remover.join();
  EXPECT_EQ(archived_at_return, 1u) << "RemoveTarget returned before the capture was published";
  EXPECT_EQ(status_at_return, "running") << "RemoveTarget returned with the VM paused";
  // Joins every thread the coordinator started: a runner still alive would have polled by now.
  coordinator_.reset();
  EXPECT_EQ(probes.polls.load(), polls_at_return);
  EXPECT_EQ(archive_->count(), 1u);
  EXPECT_EQ(vmm_.count("stop"), vmm_.count("cont"));
}

// Probes whose SCX_EV_* sum grows by one per sample; no scheduler state otherwise.
class CountingEventProbes : public dump::TriggerProbes {
 public:
  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override { return dump::ScxExitProbe{}; }
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    return absl::FailedPreconditionError("unused");
  }
  absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters() override {
    // Attempt n+1 starts only after attempt n was recorded in the timeline (one sampler thread).
    if (++attempts == 1 && hold_first) first_may_finish.WaitForNotificationWithTimeout(kEventually);
    if (fail) return absl::FailedPreconditionError("scx_root is NULL");
    kfreeze::v1::EventCounterSample s;
    s.set_select_cpu_fallback(++samples);
    return s;
  }
  // Blocks until `attempts` reached `n`; false after kEventually.
  bool WaitForAttempts(int n) {
    const absl::Time give_up = absl::Now() + kEventually;
    while (attempts.load() < n && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
    return attempts.load() >= n;
  }
  std::atomic<int> samples{0};
  std::atomic<int> attempts{0};
  std::atomic<bool> fail{false};
  // The first attempt waits for `first_may_finish`: captures in between see no sample yet.
  std::atomic<bool> hold_first{false};
  absl::Notification first_may_finish;
};

class EventTimelineTest : public CoordinatorTest {
 protected:
  void MakeWithProbes() {
    dump::Attacher attacher =
        [this](const dump::AttachSpec&) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
      return std::make_shared<FakeAttachment>("7.2.0-test", dump::PhaseTable{OneMapPhase("m")},
                                              &probes_);
    };
    MakeWith(attacher);
  }
  kfreeze::v1::FailureDumpReport FreezeOne() {
    auto r = coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || !r->envelope().has_single()) return {};
    return r->envelope().single();
  }
  CountingEventProbes probes_;
};

TEST_F(EventTimelineTest, SamplesTakenWhileRunningLandInTheReport) {
  MakeWithProbes();
  kfreeze::v1::TargetConfig t = Target("vm0");
  t.set_event_sample_ms(2);
  t.set_event_timeline_samples(4);
  ASSERT_TRUE(coordinator_->AddTarget(t, "config", false).ok());
  const absl::Time give_up = absl::Now() + kEventually;
  while (probes_.samples.load() < 6 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  kfreeze::v1::FailureDumpReport r = FreezeOne();
  ASSERT_EQ(r.event_counter_timeline_size(), 4);  // the newest 4 of >= 6
  EXPECT_FALSE(r.has_event_counter_timeline_unavailable());
  for (int i = 1; i < 4; ++i) {
    const auto& a = r.event_counter_timeline(i - 1);
    const auto& b = r.event_counter_timeline(i);
    EXPECT_EQ(b.select_cpu_fallback(), a.select_cpu_fallback() + 1);
    EXPECT_GE(b.elapsed_ms(), a.elapsed_ms());
  }
  EXPECT_GE(r.event_counter_timeline(0).select_cpu_fallback(), 3);
}

TEST_F(EventTimelineTest, FailedSamplingAndSamplingOffSayWhy) {
  MakeWithProbes();
  probes_.fail = true;
  probes_.hold_first = true;
  kfreeze::v1::TargetConfig t = Target("vm0");
  t.set_event_sample_ms(2);
  ASSERT_TRUE(coordinator_->AddTarget(t, "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  ASSERT_TRUE(probes_.WaitForAttempts(1));  // the sampler is inside its first attempt
  kfreeze::v1::FailureDumpReport r = FreezeOne();
  EXPECT_EQ(r.event_counter_timeline_size(), 0);
  EXPECT_EQ(r.event_counter_timeline_unavailable(), "no event counter sample taken yet");
  probes_.first_may_finish.Notify();
  ASSERT_TRUE(probes_.WaitForAttempts(2));  // the first attempt's failure is recorded
  r = FreezeOne();
  EXPECT_EQ(r.event_counter_timeline_size(), 0);
  EXPECT_EQ(r.event_counter_timeline_unavailable(),
            "event counter sampling failed: scx_root is NULL");
  ASSERT_TRUE(coordinator_->RemoveTarget("vm0").ok());
  t.set_event_sampling_off(true);
  ASSERT_TRUE(coordinator_->AddTarget(t, "config", false).ok());
  r = FreezeOne();
  EXPECT_EQ(r.event_counter_timeline_unavailable(), "event sampling is off for this target");
}

TEST_F(CoordinatorTest, AddRemoveAndValidation) {
  Make([](const std::string&) { return dump::PhaseTable{}; });
  EXPECT_TRUE(
      absl::IsInvalidArgument(coordinator_->AddTarget(Target("a/b"), "rpc", false).status()));
  kfreeze::v1::TargetConfig no_ram;
  no_ram.set_name("x");
  EXPECT_TRUE(absl::IsInvalidArgument(coordinator_->AddTarget(no_ram, "rpc", false).status()));
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "rpc", false).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(coordinator_->AddTarget(Target("vm0"), "rpc", false).status()));
  EXPECT_TRUE(coordinator_->AddTarget(Target("vm0"), "rpc", true).ok());
  EXPECT_TRUE(coordinator_->RemoveTarget("vm0").ok());
  EXPECT_TRUE(absl::IsNotFound(coordinator_->RemoveTarget("vm0")));
  EXPECT_TRUE(coordinator_->ListTargets().empty());
}

TEST_F(CoordinatorTest, ReloadReplacesOnlyConfigTargets) {
  Make([](const std::string&) { return dump::PhaseTable{}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("cfg_old"), "config", false).ok());
  ASSERT_TRUE(coordinator_->AddTarget(Target("from_rpc"), "rpc", false).ok());
  coordinator_->ReloadConfigTargets({Target("cfg_new")});
  std::vector<std::string> names;
  for (const auto& t : coordinator_->ListTargets()) names.push_back(t.name() + ":" + t.source());
  EXPECT_THAT(names, ::testing::ElementsAre("cfg_new:config", "from_rpc:rpc"));
}

// Each AddTarget attaches on a thread of its own; before, every one stayed unjoined until shutdown,
// so a daemon that attaches and detaches for weeks held one thread (and its stack) per attach.
TEST_F(CoordinatorTest, AttachThreadsDoNotPileUpOverAttachCycles) {
  Make([](const std::string&) { return dump::PhaseTable{}; });
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "rpc", /*replace=*/true).ok());
    coordinator_->WaitForAttach("vm0");
    ASSERT_TRUE(coordinator_->RemoveTarget("vm0").ok());
  }
  EXPECT_LE(coordinator_->AttachThreadsHeld(), 2u);
}

// Freeze and AddTarget race Shutdown: once Shutdown returned, no VM may be stopped and no thread
// started (a capture registered after Shutdown stopped waiting would pause a VM nobody resumes).
TEST_F(CoordinatorTest, NothingStartsAfterShutdownReturned) {
  Make([](const std::string& name) { return dump::PhaseTable{OneMapPhase(name + "_map")}; });
  ASSERT_TRUE(coordinator_->AddTarget(Target("vm0"), "config", false).ok());
  coordinator_->WaitForAttach("vm0");
  std::atomic<bool> stop_callers{false};
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&, i] {
      while (!stop_callers) {
        (void)coordinator_->Freeze(Request("vm0"), kfreeze::v1::TRIGGER_RPC);
        (void)coordinator_->AddTarget(Target("extra" + std::to_string(i)), "rpc", true);
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  coordinator_->Shutdown();
  const int stops_at_shutdown = vmm_.count("stop");
  const size_t threads_at_shutdown = coordinator_->AttachThreadsHeld();
  absl::SleepFor(absl::Milliseconds(50));
  stop_callers = true;
  for (auto& t : callers) t.join();
  EXPECT_EQ(vmm_.count("stop"), stops_at_shutdown);
  EXPECT_EQ(vmm_.count("stop"), vmm_.count("cont")) << "a VM left paused";
  EXPECT_EQ(threads_at_shutdown, 0u);
  EXPECT_EQ(coordinator_->AttachThreadsHeld(), 0u) << "an attach thread started after shutdown";
  EXPECT_EQ(vmm_.status(), "running");
}

}  // namespace
}  // namespace kfreeze::server
