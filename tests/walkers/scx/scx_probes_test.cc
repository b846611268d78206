#include "core/walkers/scx/scx_probes.h"

#include "gtest/gtest.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::scx {
namespace {

using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;

TEST(ProbeExitKind, DetachedAttachedAndErrored) {
  ScxWorld w;
  Reader r = w.guest().MakeReader();
  ScxContext ctx = BuildScxContext(w.view(), r);
  absl::StatusOr<ExitProbeResult> p = ProbeExitKind(r, ctx);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->attached);

  Kva sched = w.AttachScheduler("s");
  p = ProbeExitKind(r, ctx);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->attached);
  EXPECT_EQ(p->sched_kva, sched.value);
  EXPECT_EQ(p->exit_kind, 0u);

  w.SetExit(1026, "stall", "m", "", {});
  p = ProbeExitKind(r, ctx);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->exit_kind, 1026u);

  // The disable work ran: exit_kind is SCX_EXIT_DONE, the error kind lives on in exit_info.
  w.guest().Put<uint32_t>(w.ExitKindAddr(), 1);
  p = ProbeExitKind(r, ctx);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->exit_kind, 1026u);
}

TEST(ProbeExitKind, CleanExitAfterDisableStaysClean) {
  ScxWorld w;
  Reader r = w.guest().MakeReader();
  ScxContext ctx = BuildScxContext(w.view(), r);
  w.AttachScheduler("s");
  w.SetExit(64, "unregistered from user space", "", "", {});  // SCX_EXIT_UNREG
  w.guest().Put<uint32_t>(w.ExitKindAddr(), 1);
  absl::StatusOr<ExitProbeResult> p = ProbeExitKind(r, ctx);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->exit_kind, 64u);
}

TEST(ScanRunnableAges, OldestOverAllCpus) {
  ScxWorld w;
  w.AttachScheduler("s", 500);
  w.SetJiffies(10000);
  Kva a = w.NewTask(1, "a"), b = w.NewTask(2, "b"), c = w.NewTask(3, "c");
  w.AddRunnable(0, a);
  w.AddRunnable(1, b);
  w.AddRunnable(1, c);
  w.SetRunnableAt(a, 9900);
  w.SetRunnableAt(b, 9300);   // oldest: 700 jiffies
  w.SetRunnableAt(c, 10050);  // in the future: ignored
  Reader r = w.guest().MakeReader();
  ScxContext ctx = BuildScxContext(w.view(), r);
  absl::StatusOr<RunnableAgeResult> s = ScanRunnableAges(r, ctx);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->jiffies, 10000u);
  EXPECT_EQ(s->hz, 250u);
  EXPECT_EQ(s->watchdog_timeout_jiffies, 500u);
  EXPECT_EQ(s->max_age_jiffies, 700u);
  EXPECT_EQ(s->tasks_scanned, 3u);
}

TEST(ScanRunnableAges, MissingPrerequisiteIsNamed) {
  ScxWorldOptions o;
  o.omit = {"sched_ext_entity.runnable_at"};
  ScxWorld w(o);
  Reader r = w.guest().MakeReader();
  ScxContext ctx = BuildScxContext(w.view(), r);
  absl::StatusOr<RunnableAgeResult> s = ScanRunnableAges(r, ctx);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SampleEventCounters, SumsAndNeedsAScheduler) {
  ScxWorld w;
  Reader r = w.guest().MakeReader();
  ScxContext ctx = BuildScxContext(w.view(), r);
  EXPECT_EQ(SampleEventCounters(r, ctx).status().code(), absl::StatusCode::kFailedPrecondition);
  w.AttachScheduler("s");
  w.SetEventCounter(0, 7, 50);
  w.SetEventCounter(1, 7, 3);
  absl::StatusOr<kfreeze::v1::EventCounterSample> s = SampleEventCounters(r, ctx);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->refill_slice_dfl(), 53);
}

}  // namespace
}  // namespace kfreeze::walkers::scx
