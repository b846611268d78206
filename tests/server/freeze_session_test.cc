// The freeze sequence with an in-process control channel: ordering, overlap of the register read
// with the walk, the hard stop, keep_paused, a VM someone else paused, the shutdown's immediate
// resume, and every degraded path.
#include "core/dump/freeze_session.h"

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/fake_vmm_control.h"

namespace kfreeze::dump {
namespace {

using kfreeze::testing::FakeVmmControl;
using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpReport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Generous bound for "this should happen": a failure, not a timing claim.
constexpr auto kEventually = std::chrono::seconds(20);

// A "maps" phase that adds one named map, so a report shows which walk it came from.
std::shared_ptr<DumpPhase> MapsPhase(PhaseRunFn before = nullptr) {
  return MakePhase(
      "maps",
      [before](PhaseContext& ctx) {
        if (before) {
          if (absl::Status s = before(ctx); !s.ok()) return s;
        }
        ctx.report().add_maps()->set_name(ctx.live() ? "live_map" : "paused_map");
        return absl::OkStatus();
      },
      [](FailureDumpReport& r, absl::string_view reason) {
        r.set_maps_unavailable(std::string(reason));
      });
}

std::vector<std::string> TimingNames(const DumpEnvelope& e) {
  std::vector<std::string> names;
  for (const auto& t : e.timings()) names.push_back(t.phase());
  return names;
}

TEST(FreezeSession, PausesReadsRegistersWalksAndResumes) {
  FakeVmmControl vmm;
  FreezeOptions options;
  options.symbolize_ip = [](uint64_t ip) -> std::optional<std::string> {
    if (ip == 0xffffffff81000010) return "default_idle+0x10";
    return std::nullopt;
  };
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_GE(vmm.calls().size(), 2u);
  EXPECT_EQ(vmm.calls()[0], "query-status");
  EXPECT_EQ(vmm.calls()[1], "stop");
  EXPECT_EQ(vmm.calls().back(), "cont");
  EXPECT_EQ(vmm.count("regs"), 1);
  EXPECT_EQ(vmm.count("cont"), 1);
  ASSERT_TRUE(out->envelope.has_single());
  const FailureDumpReport& r = out->envelope.single();
  EXPECT_EQ(r.schema(), kSchemaSingle);
  EXPECT_FALSE(out->envelope.live());
  ASSERT_EQ(r.maps_size(), 1);
  EXPECT_EQ(r.maps(0).name(), "paused_map");
  ASSERT_EQ(r.vcpu_regs_size(), 2);
  EXPECT_EQ(r.vcpu_regs(0).regs().instruction_pointer(), 0xffffffff81000010u);
  EXPECT_EQ(r.vcpu_regs(0).regs().ip_symbol(), "default_idle+0x10");
  EXPECT_FALSE(r.vcpu_regs(1).regs().has_ip_symbol());
  EXPECT_EQ(r.vcpu_regs(1).regs().page_table_root(), 0x10b000u);
  EXPECT_FALSE(r.has_vcpu_regs_unavailable());
  EXPECT_THAT(TimingNames(out->envelope),
              ElementsAre("run_state", "pause", "regs", "maps", "copy_pages", "resume", "copy",
                          "maps_decode", "decode", "freeze_window", "total"));
  EXPECT_EQ(out->envelope.deadline_ms(), 2000u);
  EXPECT_FALSE(out->envelope.vm_already_paused());
  EXPECT_TRUE(out->envelope.has_captured_at());
  EXPECT_TRUE(out->resume_status.ok());
  EXPECT_FALSE(out->left_paused);
  EXPECT_GT(out->freeze_window_us, 0u);
}

TEST(FreezeSession, RegisterReadOverlapsTheWalk) {
  // Each side waits for the other to have started: a serial implementation cannot finish.
  FakeVmmControl vmm;
  absl::Notification walk_started, regs_started;
  std::atomic<bool> regs_saw_walk{false}, walk_saw_regs{false};
  vmm.during_regs = [&] {
    regs_started.Notify();
    regs_saw_walk = walk_started.WaitForNotificationWithTimeout(absl::Seconds(20));
  };
  auto phase = MapsPhase([&](PhaseContext& ctx) {
    if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
    walk_started.Notify();
    walk_saw_regs = regs_started.WaitForNotificationWithTimeout(absl::Seconds(20));
    return absl::OkStatus();
  });
  FreezeOptions options;
  options.soft_deadline = std::chrono::seconds(60);
  auto out = RunFreeze(&vmm, {phase}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(regs_saw_walk);
  EXPECT_TRUE(walk_saw_regs);
  ASSERT_TRUE(out->envelope.has_single());
  EXPECT_EQ(out->envelope.single().vcpu_regs_size(), 2);
}

TEST(FreezeSession, WalkerErrorStillResumes) {
  FakeVmmControl vmm;
  auto phase = MapsPhase([](PhaseContext&) { return absl::InternalError("walker broke"); });
  auto out = RunFreeze(&vmm, {phase}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(vmm.count("cont"), 1);
  ASSERT_TRUE(out->envelope.has_single());
  EXPECT_EQ(out->envelope.single().maps_unavailable(), "walker broke");
}

// The register read overlaps the walk, so running tasks are joined to vCPUs after both end.
TEST(FreezeSession, RunningTasksGetTheirVcpuPcAfterTheWalk) {
  FakeVmmControl vmm;
  vmm.regs = std::vector<VcpuRegisters>{
      testing::BasicVcpu(0, 0xffffffff81000010, 0xffffc90000003e00, 0x10a000),
      testing::BasicVcpu(1, 0xffffffff81000020, 0xffffc90000013e00, 0x10b000)};
  auto tasks = MakePhase(
      "tasks",
      [](PhaseContext& ctx) {
        auto* spinning = ctx.report().add_task_enrichments();
        spinning->set_pid(7);
        spinning->set_is_running(true);
        spinning->set_stack_base(0xffffc90000010000);  // vCPU 1's SP lies on it
        auto* elsewhere = ctx.report().add_task_enrichments();
        elsewhere->set_pid(8);
        elsewhere->set_is_running(true);
        elsewhere->set_stack_base(0xffffc90000020000);  // no vCPU's SP on it
        auto* queued = ctx.report().add_task_enrichments();
        queued->set_pid(9);
        queued->set_stack_base(0xffffc90000000000);  // vCPU 0's stack, but not running
        return absl::OkStatus();
      },
      [](FailureDumpReport& r, absl::string_view reason) {
        r.set_task_enrichments_unavailable(std::string(reason));
      });
  FreezeOptions options;
  options.symbolize_ip = [](uint64_t ip) -> std::optional<std::string> {
    if (ip == 0xffffffff81000020) return "native_queued_spin_lock_slowpath+0x4a";
    return std::nullopt;
  };
  auto out = RunFreeze(&vmm, {tasks}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->envelope.has_single());
  const auto& t = out->envelope.single().task_enrichments();
  ASSERT_EQ(t.size(), 3);
  EXPECT_EQ(t[0].running_pc(), 0xffffffff81000020u);
  EXPECT_EQ(t[0].running_symbol(), "native_queued_spin_lock_slowpath+0x4a");
  EXPECT_EQ(t[0].lock_slowpath_match(), "queued_spin_lock_slowpath");
  EXPECT_FALSE(t[1].has_running_pc());
  EXPECT_FALSE(t[2].has_running_pc());
}

// The x86 register file in the report takes RIP, RSP and CR3 from the generic fields.
TEST(FreezeSession, X86RegisterFileReachesTheReport) {
  FakeVmmControl vmm;
  VcpuRegisters r = testing::BasicVcpu(0, 0xffffffff81000010, 0xffffc90000003e00, 0x10a000);
  r.kernel_mode = true;
  r.x86.emplace();
  r.x86->rbp = 0xffffc90000003e40;
  r.x86->cs = 0x10;
  vmm.regs = std::vector<VcpuRegisters>{r};
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  const auto& v = out->envelope.single().vcpu_regs(0).regs();
  ASSERT_TRUE(v.has_x86());
  EXPECT_FALSE(v.has_arm64());
  EXPECT_EQ(v.x86().rip(), 0xffffffff81000010u);
  EXPECT_EQ(v.x86().rsp(), 0xffffc90000003e00u);
  EXPECT_EQ(v.x86().cr3(), 0x10a000u);
  EXPECT_EQ(v.x86().rbp(), 0xffffc90000003e40u);
  EXPECT_EQ(v.x86().cs(), 0x10u);
}

// arm64 vCPUs: the register file reaches the report, there is no page-table root (HMP shows no
// TTBR), and running tasks are paired by SP as on x86.
TEST(FreezeSession, Arm64RegistersReachTheReportAndPairRunningTasks) {
  FakeVmmControl vmm;
  std::vector<VcpuRegisters> regs;
  for (uint32_t cpu : {0u, 1u}) {
    VcpuRegisters r;
    r.cpu_index = cpu;
    r.pc = cpu == 0 ? 0x4006dc : 0xffffac8636ddabc8;
    r.sp = cpu == 0 ? 0xffffec6b8290 : 0xffff800080103df0;
    r.kernel_mode = cpu == 1;
    Arm64RegisterFile& f = r.arm64.emplace();
    for (uint64_t i = 0; i < 31; ++i) f.x[i] = 0x100 + i;
    f.sp = r.sp;
    f.pc = r.pc;
    f.pstate = cpu == 0 ? 0x60001000 : 0x614000c5;
    f.el = cpu == 0 ? 0 : 1;
    f.sp_sel = cpu == 1;
    regs.push_back(r);
  }
  vmm.regs = regs;
  auto tasks = MakePhase(
      "tasks",
      [](PhaseContext& ctx) {
        auto* idle = ctx.report().add_task_enrichments();
        idle->set_pid(0);
        idle->set_is_running(true);
        idle->set_stack_base(0xffff800080100000);  // vCPU 1's SP lies on it
        return absl::OkStatus();
      },
      [](FailureDumpReport& r, absl::string_view reason) {
        r.set_task_enrichments_unavailable(std::string(reason));
      });
  FreezeOptions options;
  options.symbolize_ip = [](uint64_t ip) -> std::optional<std::string> {
    if (ip == 0xffffac8636ddabc8) return "default_idle_call+0x30";
    return std::nullopt;
  };
  auto out = RunFreeze(&vmm, {tasks}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  const FailureDumpReport& rep = out->envelope.single();
  ASSERT_EQ(rep.vcpu_regs_size(), 2);
  const auto& k = rep.vcpu_regs(1).regs();
  EXPECT_EQ(k.instruction_pointer(), 0xffffac8636ddabc8u);
  EXPECT_EQ(k.stack_pointer(), 0xffff800080103df0u);
  EXPECT_EQ(k.page_table_root(), 0u);
  EXPECT_EQ(k.ip_symbol(), "default_idle_call+0x30");
  EXPECT_FALSE(k.has_x86());
  ASSERT_TRUE(k.has_arm64());
  ASSERT_EQ(k.arm64().x_size(), 31);
  EXPECT_EQ(k.arm64().x(29), 0x100u + 29);
  EXPECT_EQ(k.arm64().sp(), 0xffff800080103df0u);
  EXPECT_EQ(k.arm64().pc(), 0xffffac8636ddabc8u);
  EXPECT_EQ(k.arm64().pstate(), 0x614000c5u);
  EXPECT_EQ(k.arm64().el(), 1u);
  EXPECT_EQ(rep.vcpu_regs(0).regs().arm64().el(), 0u);
  ASSERT_EQ(rep.task_enrichments_size(), 1);
  EXPECT_EQ(rep.task_enrichments(0).running_pc(), 0xffffac8636ddabc8u);
  EXPECT_EQ(rep.task_enrichments(0).running_symbol(), "default_idle_call+0x30");
}

TEST(FreezeSession, HardDeadlineResumesWhileTheWalkStillRuns) {
  FakeVmmControl vmm;
  std::atomic<bool> saw_cont_while_walking{false};
  auto phase = MapsPhase([&](PhaseContext&) {
    // A stuck walker: it only returns once the VM was resumed behind its back.
    saw_cont_while_walking = vmm.WaitFor("cont", kEventually);
    return absl::OkStatus();
  });
  FreezeOptions options;
  // The soft deadline must leave room for the phase to start (an expired one skips it); the walk
  // then blocks until the hard stop resumes the VM, however loaded the machine is.
  options.soft_deadline = std::chrono::milliseconds(200);
  options.hard_grace = std::chrono::milliseconds(10);
  auto out = RunFreeze(&vmm, {phase}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(saw_cont_while_walking);
  EXPECT_TRUE(out->hard_stopped);
  EXPECT_EQ(vmm.count("cont"), 1);  // not resumed twice
  EXPECT_THAT(TimingNames(out->envelope), ::testing::Contains("hard_stop"));
}

TEST(FreezeSession, HardStopOverridesKeepPaused) {
  FakeVmmControl vmm;
  auto phase = MapsPhase([&](PhaseContext&) {
    vmm.WaitFor("cont", kEventually);
    return absl::OkStatus();
  });
  FreezeOptions options;
  options.soft_deadline = std::chrono::milliseconds(200);  // room for the phase to start
  options.hard_grace = std::chrono::milliseconds(1);
  options.keep_paused = true;
  auto out = RunFreeze(&vmm, {phase}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->hard_stopped);
  EXPECT_FALSE(out->left_paused);
}

TEST(FreezeSession, KeepPausedSkipsTheResume) {
  FakeVmmControl vmm;
  FreezeOptions options;
  options.keep_paused = true;
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(vmm.count("cont"), 0);
  EXPECT_TRUE(out->left_paused);
  EXPECT_THAT(TimingNames(out->envelope), ::testing::Not(::testing::Contains("resume")));
}

TEST(FreezeSession, PauseFailureGivesDegradedReportWithALiveWalk) {
  FakeVmmControl vmm;
  vmm.stop_status = absl::DeadlineExceededError("no reply to stop within 1000 ms");
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  const auto& d = out->envelope.degraded();
  EXPECT_EQ(d.schema(), kSchemaDegraded);
  EXPECT_THAT(d.reason(), StartsWith(std::string(kReasonPauseFailed) + ": "));
  EXPECT_THAT(d.reason(), HasSubstr("no reply to stop"));
  EXPECT_TRUE(out->envelope.live());
  ASSERT_TRUE(d.has_partial());
  ASSERT_EQ(d.partial().maps_size(), 1);
  EXPECT_EQ(d.partial().maps(0).name(), "live_map");
  EXPECT_EQ(d.partial().vcpu_regs_unavailable(), kReasonNoControlChannel);
  // A stop that timed out may still land later: the session resumes anyway.
  EXPECT_EQ(vmm.count("cont"), 1);
  EXPECT_EQ(vmm.count("regs"), 0);
}

TEST(FreezeSession, RegisterFailureGivesDegradedReportWithThePausedWalk) {
  FakeVmmControl vmm;
  vmm.regs = absl::DeadlineExceededError("info registers timed out");
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  const auto& d = out->envelope.degraded();
  EXPECT_THAT(d.reason(), StartsWith(std::string(kReasonRegisterReadFailed)));
  EXPECT_THAT(d.reason(), HasSubstr("timed out"));
  EXPECT_EQ(d.vcpu_regs_size(), 0);
  ASSERT_EQ(d.partial().maps_size(), 1);
  EXPECT_EQ(d.partial().maps(0).name(), "paused_map");
  EXPECT_EQ(d.bss_latch_state(), kBssLatchNotResolved);
  EXPECT_EQ(vmm.count("cont"), 1);
  EXPECT_FALSE(out->envelope.live());
}

TEST(FreezeSession, VmmGoneAtResumeIsDegradedAndReported) {
  FakeVmmControl vmm;
  vmm.cont_status = absl::UnavailableError("QMP socket closed");
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(), StartsWith(std::string(kReasonVmmGone)));
  EXPECT_EQ(out->envelope.degraded().vcpu_regs_size(), 2);  // the registers it did read
  EXPECT_EQ(out->resume_status, vmm.cont_status);           // the caller learns why, not just that
}

TEST(FreezeSession, ResumeTimeoutIsDegradedWithItsOwnReason) {
  FakeVmmControl vmm;
  vmm.cont_status = absl::DeadlineExceededError("no reply to cont");
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(), StartsWith(std::string(kReasonResumeFailed)));
}

TEST(FreezeSession, NoControlChannelIsALiveDump) {
  auto out = RunFreeze(nullptr, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->envelope.live());
  ASSERT_TRUE(out->envelope.has_single());
  EXPECT_EQ(out->envelope.single().vcpu_regs_unavailable(), kReasonNoControlChannel);
  EXPECT_EQ(out->envelope.single().maps(0).name(), "live_map");
  EXPECT_THAT(TimingNames(out->envelope), ElementsAre("maps", "freeze_window", "total"));
  EXPECT_EQ(out->freeze_window_us, 0u);
}

TEST(FreezeSession, UnknownSectionFailsBeforeAnyPause) {
  FakeVmmControl vmm;
  FreezeOptions options;
  options.sections = {"nope"};
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  EXPECT_TRUE(absl::IsInvalidArgument(out.status()));
  EXPECT_TRUE(vmm.calls().empty());
}

// "regs" is a section: left out of a list, the window holds no register read, and the report is
// still single, saying the registers were not asked for.
TEST(FreezeSession, RegistersLeftOutOfTheSectionsAreNotRead) {
  FakeVmmControl vmm;
  FreezeOptions options;
  options.sections = {"maps"};
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(vmm.calls(), ElementsAre("query-status", "stop", "cont"));
  ASSERT_TRUE(out->envelope.has_single());
  const FailureDumpReport& r = out->envelope.single();
  EXPECT_EQ(r.vcpu_regs_size(), 0);
  EXPECT_EQ(r.vcpu_regs_unavailable(), kReasonSectionNotRequested);
  EXPECT_EQ(r.maps(0).name(), "paused_map");
  EXPECT_THAT(TimingNames(out->envelope),
              ElementsAre("run_state", "pause", "maps", "copy_pages", "resume", "copy",
                          "maps_decode", "decode", "freeze_window", "total"));

  FakeVmmControl paused;
  paused.SetStatus("paused");
  auto as_found = RunFreeze(&paused, {MapsPhase()}, options);
  ASSERT_TRUE(as_found.ok()) << as_found.status();
  EXPECT_THAT(paused.calls(), ElementsAre("query-status"));
  EXPECT_EQ(as_found->envelope.single().vcpu_regs_unavailable(), kReasonSectionNotRequested);
}

TEST(FreezeSession, RegistersAloneAreAValidSection) {
  FakeVmmControl vmm;
  FreezeOptions options;
  options.sections = {"regs"};
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(vmm.count("regs"), 1);
  ASSERT_TRUE(out->envelope.has_single());
  EXPECT_EQ(out->envelope.single().vcpu_regs_size(), 2);
  EXPECT_EQ(out->envelope.single().maps_unavailable(), kReasonSectionNotRequested);
}

TEST(FreezeSession, DeadlineTruncationReachesTheReport) {
  FakeVmmControl vmm;
  auto scx = MakePhase(
      "scx", [](PhaseContext&) { return absl::OkStatus(); },
      [](FailureDumpReport& r, absl::string_view reason) {
        r.set_scx_walker_unavailable(std::string(reason));
      });
  auto slow = MapsPhase([](PhaseContext& ctx) {
    // Slow while the VM is paused (the copy stage); its decode has its own budget.
    while (ctx.stage() == "copy" && !ctx.deadline().Expired()) std::this_thread::yield();
    return absl::OkStatus();
  });
  FreezeOptions options;
  options.soft_deadline = std::chrono::milliseconds(50);  // room for the first phase to start
  options.hard_grace = std::chrono::seconds(60);
  auto out = RunFreeze(&vmm, {slow, scx}, options);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_single());
  const auto& r = out->envelope.single();
  EXPECT_THAT(r.truncated_phases(), ElementsAre("scx"));
  EXPECT_EQ(r.scx_walker_unavailable(), kReasonDeadlineExceeded);
  EXPECT_TRUE(r.has_dump_truncated_at_us());
  // The copy stage (in the freeze window) is the one that cut it, and the report says so.
  ASSERT_EQ(r.stage_cuts_size(), 1);
  EXPECT_EQ(r.stage_cuts(0).stage(), "copy");
  EXPECT_EQ(r.stage_cuts(0).phase(), "scx");
  EXPECT_EQ(r.maps_size(), 1);  // the slow phase itself finished its copy: decoded in full
  EXPECT_FALSE(out->hard_stopped);
  EXPECT_EQ(vmm.count("cont"), 1);
}

// Any RunState other than "running" is someone else's: the VM is walked as found (frozen, with its
// registers), kfreeze sends neither stop nor cont, and the VM is still in that state afterwards.
class AlreadyPausedTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AlreadyPausedTest, WalkedAsFoundAndLeftInItsState) {
  FakeVmmControl vmm;
  vmm.SetStatus(GetParam());
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(vmm.calls(), ElementsAre("query-status", "regs"));
  EXPECT_EQ(vmm.status(), GetParam());
  EXPECT_TRUE(out->vm_already_paused);
  EXPECT_TRUE(out->envelope.vm_already_paused());
  EXPECT_FALSE(out->envelope.live());
  EXPECT_FALSE(out->left_paused);
  EXPECT_TRUE(out->resume_status.ok());
  EXPECT_EQ(out->freeze_window_us, 0u);  // kfreeze paused nothing
  ASSERT_TRUE(out->envelope.has_single());
  EXPECT_EQ(out->envelope.single().maps(0).name(), "paused_map");
  EXPECT_EQ(out->envelope.single().vcpu_regs_size(), 2);
  EXPECT_THAT(TimingNames(out->envelope),
              ElementsAre("run_state", "regs", "maps", "decode", "freeze_window", "total"));
}

INSTANTIATE_TEST_SUITE_P(QemuRunStates, AlreadyPausedTest,
                         ::testing::Values("paused", "suspended", "io-error", "inmigrate",
                                           "postmigrate", "guest-panicked", "internal-error"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(FreezeSession, KeepPausedOnAVmSomeoneElsePausedDoesNotTakeOwnership) {
  FakeVmmControl vmm;
  vmm.SetStatus("paused");
  FreezeOptions options;
  options.keep_paused = true;
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_FALSE(out->left_paused);  // nothing for the caller to resume later
  EXPECT_TRUE(out->envelope.vm_already_paused());
  EXPECT_EQ(vmm.count("stop"), 0);
  EXPECT_EQ(vmm.count("cont"), 0);
}

TEST(FreezeSession, FailedRunStateQueryDegradesWithoutStoppingTheVm) {
  FakeVmmControl vmm;
  vmm.query_status = absl::DeadlineExceededError("no reply to query-status");
  auto out = RunFreeze(&vmm, {MapsPhase()}, {});
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(out->envelope.has_degraded());
  EXPECT_THAT(out->envelope.degraded().reason(),
              StartsWith(std::string(kReasonPauseFailed) + ": "));
  EXPECT_THAT(out->envelope.degraded().reason(), HasSubstr("no reply to query-status"));
  EXPECT_TRUE(out->envelope.live());
  EXPECT_EQ(out->envelope.degraded().partial().maps(0).name(), "live_map");
  EXPECT_THAT(vmm.calls(), ElementsAre("query-status"));  // no stop, so no cont either
  EXPECT_FALSE(out->envelope.vm_already_paused());
}

TEST(FreezeSession, APauseWeHoldIsResumedWithoutAskingWhoPausedIt) {
  FakeVmmControl vmm;
  vmm.SetStatus("paused");  // by an earlier keep_paused freeze on this channel
  FreezeOptions options;
  options.pause_held = true;
  auto out = RunFreeze(&vmm, {MapsPhase()}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(vmm.count("query-status"), 0);
  EXPECT_EQ(vmm.count("cont"), 1);
  EXPECT_EQ(vmm.status(), "running");
  EXPECT_FALSE(out->envelope.vm_already_paused());
}

TEST(FreezeSession, ResumeAllResumesAPausedWalkAtOnce) {
  // The walker ignores its deadline (stuck in a read): only an immediate resume lets it finish
  // before kEventually; the hard deadline is ten minutes away.
  FakeVmmControl vmm;
  ActivePauses pauses;
  absl::Notification walking;
  std::atomic<bool> saw_cont_while_walking{false};
  auto phase = MapsPhase([&](PhaseContext& ctx) {
    if (ctx.stage() == "decode") return absl::OkStatus();  // hooks watch the window
    walking.Notify();
    saw_cont_while_walking = vmm.WaitFor("cont", kEventually);
    return absl::OkStatus();
  });
  FreezeOptions options;
  options.soft_deadline = std::chrono::minutes(10);
  options.keep_paused = true;
  options.active_pauses = &pauses;
  std::thread shutdown([&] {
    walking.WaitForNotificationWithTimeout(absl::Seconds(20));
    pauses.ResumeAll();
  });
  auto out = RunFreeze(&vmm, {phase}, options);
  shutdown.join();
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(saw_cont_while_walking);
  EXPECT_EQ(vmm.count("cont"), 1);
  EXPECT_FALSE(out->left_paused);  // keep_paused has nothing left to keep
  EXPECT_EQ(vmm.status(), "running");
}

TEST(FreezeSession, AFreezeAfterResumeAllIsResumedRightAfterItsStop) {
  FakeVmmControl vmm;
  ActivePauses pauses;
  pauses.ResumeAll();
  std::string status_during_walk;
  auto phase = MapsPhase([&](PhaseContext&) {
    status_during_walk = vmm.status();
    return absl::OkStatus();
  });
  FreezeOptions options;
  options.keep_paused = true;
  options.active_pauses = &pauses;
  auto out = RunFreeze(&vmm, {phase}, options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(status_during_walk, "running");
  EXPECT_FALSE(out->left_paused);
  EXPECT_EQ(vmm.count("cont"), 1);
}

// Copies in the window, decodes after `cont`: the phase sees the VM paused in Run and in the
// vCPU memory copier, running in Decode, with the registers and the copies handed over.
class CopyThenDecodePhase : public DumpPhase {
 public:
  explicit CopyThenDecodePhase(FakeVmmControl* vmm) : vmm_(vmm) {}
  absl::string_view name() const override { return "stacks"; }
  bool decodes() const override { return true; }
  absl::Status Run(PhaseContext& ctx) override {
    runs.push_back(absl::StrCat(ctx.stage(), ":", vmm_->status()));
    return absl::OkStatus();
  }
  absl::Status Decode(PhaseContext& ctx, const Deadline&) override {
    decode_saw = vmm_->status();
    if (const VcpuCapture* c = ctx.outputs().Get<VcpuCapture>()) {
      registers = c->registers.size();
      for (const GuestCopy& m : c->memory) copied_bytes += m.bytes.size();
    }
    ctx.report().set_kernel_stacks_unavailable("decoded");
    return absl::OkStatus();
  }
  void MarkUnavailable(FailureDumpReport& r, absl::string_view reason) const override {
    r.set_kernel_stacks_unavailable(std::string(reason));
  }
  std::vector<std::string> runs;  // "<stage>:<vm status>" per Run
  std::string decode_saw;
  size_t registers = 0, copied_bytes = 0;

 private:
  FakeVmmControl* vmm_;
};

TEST(FreezeSession, DecodeRunsAfterTheResumeWithWhatTheWindowCopied) {
  FakeVmmControl vmm;
  auto phase = std::make_shared<CopyThenDecodePhase>(&vmm);
  std::string copier_saw;
  FreezeOptions options;
  options.copy_vcpu_memory = [&](const std::vector<VcpuRegisters>& regs) {
    copier_saw = vmm.status();
    std::vector<GuestCopy> out;
    for (const VcpuRegisters& r : regs)
      out.push_back({r.cpu_index, r.sp, std::vector<uint8_t>(64)});
    return out;
  };
  auto out = RunFreeze(&vmm, {phase}, options);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(copier_saw, "paused");
  // Copied while paused, replayed from the snapshot after the resume, then decoded.
  EXPECT_THAT(phase->runs, ElementsAre("copy:paused", "decode:running"));
  EXPECT_EQ(phase->decode_saw, "running");
  EXPECT_EQ(phase->registers, 2u);
  EXPECT_EQ(phase->copied_bytes, 128u);
  EXPECT_EQ(out->envelope.single().kernel_stacks_unavailable(), "decoded");
  std::vector<std::string> names = TimingNames(out->envelope);
  auto resume = std::find(names.begin(), names.end(), "resume");
  auto decode = std::find(names.begin(), names.end(), "stacks_decode");
  ASSERT_NE(decode, names.end());
  EXPECT_LT(resume, decode);
}

TEST(FreezeSession, AFailedRunIsNotDecoded) {
  FakeVmmControl vmm;
  bool decoded = false;
  class Failing : public CopyThenDecodePhase {
   public:
    Failing(FakeVmmControl* vmm, bool* decoded) : CopyThenDecodePhase(vmm), decoded_(decoded) {}
    absl::Status Run(PhaseContext&) override { return absl::DataLossError("torn"); }
    absl::Status Decode(PhaseContext&, const Deadline&) override {
      *decoded_ = true;
      return absl::OkStatus();
    }
    bool* decoded_;
  };
  auto out = RunFreeze(&vmm, {std::make_shared<Failing>(&vmm, &decoded)}, FreezeOptions{});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(decoded);
  EXPECT_EQ(out->envelope.single().kernel_stacks_unavailable(), "torn");
}

}  // namespace
}  // namespace kfreeze::dump
