#include "core/walkers/scx/scx_capture.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/base/reasons.h"
#include "gtest/gtest.h"
#include "tests/walkers/scx/scx_capture_util.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::scx {
namespace {

using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;
using kfreeze::v1::DsqState;
using kfreeze::v1::FailureDumpReport;
namespace L = kfreeze::testing::layout;

FailureDumpReport Capture(ScxWorld& w) { return CaptureWorld(w); }

std::vector<uint64_t> Kvas(std::initializer_list<Kva> l) {
  std::vector<uint64_t> out;
  for (Kva k : l) out.push_back(k.value);
  return out;
}

TEST(ScxCapture, FullSchedulerState) {
  ScxWorld w;
  w.SetJiffies(10000);
  Kva sched = w.AttachScheduler("poc_sched", 500);
  Kva a = w.NewTask(101, "alpha"), b = w.NewTask(102, "beta"), c = w.NewTask(103, "gamma");
  Kva d = w.NewTask(104, "delta");
  for (Kva t : {a, b, c, d}) w.AddToScxTasks(t);
  w.SetCurr(0, a);
  w.AddRunnable(0, a);
  w.AddRunnable(0, b);
  w.AddRunnable(1, c);
  w.Enqueue(w.LocalDsq(0), b);
  w.EnqueueCursor(w.LocalDsq(0));  // must not appear as a task
  w.SetRunnableAt(b, 9000);
  w.Enqueue(w.GlobalDsq(), c);
  w.SetRunnableAt(c, 9500);
  Kva u1 = w.UserDsq(7);
  w.UserDsq(8);
  w.UserDsq(15);  // same bucket as 7 with 8 buckets: a two-entry chain
  w.Enqueue(u1, d);
  w.SetRunnableAt(d, 4000);
  w.SetEventCounter(0, 2, 5);  // DISPATCH_KEEP_LAST
  w.SetEventCounter(1, 2, 7);
  w.SetEventCounter(1, 8, 47376383);  // BYPASS_DURATION

  FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_scx_walker_unavailable()) << r.scx_walker_unavailable();

  ASSERT_TRUE(r.has_scx_sched_state());
  const auto& s = r.scx_sched_state();
  EXPECT_EQ(s.sched_kva(), sched.value);
  EXPECT_EQ(s.ops_name(), "poc_sched");
  EXPECT_EQ(s.exit_kind(), 0u);
  EXPECT_EQ(s.watchdog_timeout(), 500u);
  EXPECT_EQ(s.source(), kScxSourceLive);
  EXPECT_EQ(s.enable_state(), "enabled");
  EXPECT_EQ(s.jiffies(), 10000u);
  EXPECT_EQ(s.hz(), 250u);
  EXPECT_FALSE(s.has_exit_info());
  ASSERT_TRUE(s.has_event_counters());
  EXPECT_EQ(s.event_counters().dispatch_keep_last(), 12);
  EXPECT_EQ(s.event_counters().bypass_duration(), 47376383);

  ASSERT_EQ(r.rq_scx_states_size(), 2);
  const auto& rq0 = r.rq_scx_states(0);
  EXPECT_EQ(rq0.cpu(), 0u);
  EXPECT_EQ(rq0.nr_running(), 2u);
  EXPECT_EQ(rq0.flags(), 1u);
  EXPECT_EQ(rq0.kick_sync(), 70u);
  EXPECT_EQ(rq0.rq_clock(), 1000000u);
  EXPECT_EQ(rq0.curr_pid(), 101);
  EXPECT_EQ(rq0.curr_comm(), "alpha");
  EXPECT_EQ(rq0.curr_task_kva(), a.value);
  EXPECT_EQ(rq0.curr_sched_class(), "ext");
  EXPECT_EQ(std::vector<uint64_t>(rq0.runnable_task_kvas().begin(), rq0.runnable_task_kvas().end()),
            Kvas({a, b}));
  EXPECT_FALSE(rq0.runnable_truncated());
  EXPECT_FALSE(r.rq_scx_states(1).has_curr_pid());  // rq->curr NULL: absent, not 0
  EXPECT_EQ(r.rq_scx_states(1).runnable_task_kvas_size(), 1);

  const DsqState* local0 = FindDsq(r, "local cpu 0");
  ASSERT_NE(local0, nullptr);
  EXPECT_EQ(local0->nr(), 1u);
  EXPECT_EQ(std::vector<uint64_t>(local0->task_kvas().begin(), local0->task_kvas().end()),
            Kvas({b}));
  EXPECT_EQ(local0->oldest_runnable_age_jiffies(), 1000u);
  EXPECT_EQ(local0->dsq_kva(), w.LocalDsq(0).value);
  EXPECT_FALSE(local0->truncated());
  ASSERT_NE(FindDsq(r, "local cpu 1"), nullptr);
  EXPECT_EQ(FindDsq(r, "local cpu 1")->task_kvas_size(), 0);
  ASSERT_NE(FindDsq(r, "bypass cpu 0"), nullptr);
  ASSERT_NE(FindDsq(r, "bypass cpu 1"), nullptr);
  EXPECT_EQ(FindDsq(r, "bypass cpu 1")->id(), 0x8000000000000003ull);
  const DsqState* global = FindDsq(r, "global node 0");
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(global->id(), 0x8000000000000001ull);
  EXPECT_EQ(global->task_kvas_size(), 1);
  EXPECT_EQ(global->oldest_runnable_age_jiffies(), 500u);
  for (uint64_t id : {7, 8, 15}) EXPECT_NE(FindDsq(r, "user", id), nullptr) << id;
  EXPECT_EQ(FindDsq(r, "user", 7)->task_kvas(0), d.value);
  EXPECT_EQ(FindDsq(r, "user", 7)->oldest_runnable_age_jiffies(), 6000u);
  EXPECT_EQ(r.dsq_states_size(), 2 + 2 + 1 + 3);
}

TEST(ScxCapture, RootNullKeepsPerCpuState) {
  ScxWorld w;
  Kva a = w.NewTask(5, "worker");
  w.SetCurr(1, a);
  w.Enqueue(w.LocalDsq(1), a);
  FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.scx_walker_unavailable(), kReasonScxRootNull);
  EXPECT_FALSE(r.has_scx_sched_state());
  EXPECT_EQ(r.rq_scx_states_size(), 2);
  EXPECT_EQ(r.rq_scx_states(1).curr_comm(), "worker");
  ASSERT_NE(FindDsq(r, "local cpu 1"), nullptr);
  EXPECT_EQ(FindDsq(r, "local cpu 1")->task_kvas(0), a.value);
  EXPECT_EQ(FindDsq(r, "bypass cpu 0"), nullptr);
}

TEST(ScxCapture, DetachedAfterAttachIsRootNull) {
  ScxWorld w;
  w.AttachScheduler("gone");
  w.DetachScheduler();
  FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.scx_walker_unavailable(), kReasonScxRootNull);
}

TEST(ScxCapture, MissingGroupGivesPreciseReasonAndOtherPartsStillRun) {
  ScxWorldOptions o;
  o.omit = {"scx_rq.flags"};
  ScxWorld w(o);
  w.AttachScheduler("sched");
  w.UserDsq(3);
  FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.scx_walker_unavailable(), std::string(kReasonScxWalkerPartialPrefix) + "[scx_rq]");
  EXPECT_EQ(r.rq_scx_states_size(), 0);
  EXPECT_EQ(FindDsq(r, "local cpu 0"), nullptr);  // needs scx_rq.local_dsq's group
  EXPECT_TRUE(r.has_scx_sched_state());
  EXPECT_NE(FindDsq(r, "user", 3), nullptr);
}

TEST(ScxCapture, MissingGroupsOutrankRootNull) {
  ScxWorldOptions o;
  o.omit = {"scx_dispatch_q.hash_node", "scx_exit_info"};
  ScxWorld w(o);  // no scheduler attached either
  FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.scx_walker_unavailable(),
            std::string(kReasonScxWalkerPartialPrefix) + "[scx_dispatch_q, scx_exit_info]");
  EXPECT_EQ(r.rq_scx_states_size(), 2);
}

TEST(ScxCapture, ResizingDsqHashListsEveryUserDsqOnce) {
  ScxWorld w;
  w.AttachScheduler("sched");
  std::vector<uint64_t> ids = {1, 2, 3, 4, 5, 6, 9, 17};
  for (uint64_t id : ids) w.UserDsq(id);
  w.StartResize(2);
  FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_scx_walker_unavailable()) << r.scx_walker_unavailable();
  std::vector<uint64_t> got;
  for (const DsqState& d : r.dsq_states()) {
    if (d.origin() == "user") got.push_back(d.id());
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, ids);
}

TEST(ScxCapture, ExitInfoWithDumpAndSymbolizedBacktrace) {
  ScxWorld w;
  w.AttachScheduler("poc_stall");
  const uint64_t pc = w.SchedulerText().value + 0x15e;
  w.SetExit(1026, "runnable task stall",
            "runnable task stall (bpftool[135] failed to run for 2.876s)",
            "poc_stall: root\nkworker/u8:1[28] triggered exit kind 1026 on CPU 0:\n", {pc});
  FailureDumpReport r = Capture(w);
  ASSERT_TRUE(r.scx_sched_state().has_exit_info());
  const auto& ei = r.scx_sched_state().exit_info();
  EXPECT_EQ(r.scx_sched_state().exit_kind(), 1026u);
  EXPECT_EQ(ei.kind(), 1026u);
  EXPECT_EQ(ei.exit_code(), -1);
  EXPECT_EQ(ei.flags(), 1u);
  EXPECT_EQ(ei.reason(), "runnable task stall");
  EXPECT_EQ(ei.msg(), "runnable task stall (bpftool[135] failed to run for 2.876s)");
  EXPECT_NE(ei.dump().find("triggered exit kind 1026"), std::string::npos);
  ASSERT_EQ(ei.backtrace_size(), 1);
  EXPECT_EQ(ei.backtrace_pcs(0), pc);
  EXPECT_EQ(ei.backtrace(0), "scx_watchdog_workfn+0x15e");
}

// After the disable work: exit_kind reads SCX_EXIT_DONE; the report keeps the real kind and says
// so.
TEST(ScxCapture, DoneExitKindResolvesThroughExitInfo) {
  ScxWorld w;
  w.AttachScheduler("poc_stall");
  w.SetExit(1026, "runnable task stall", "msg", "", {});
  w.guest().Put<uint32_t>(w.ExitKindAddr(), 1);
  FailureDumpReport r = Capture(w);
  EXPECT_EQ(r.scx_sched_state().exit_kind(), 1026u);
  EXPECT_EQ(r.scx_sched_state().exit_kind_raw(), 1u);
  EXPECT_EQ(r.scx_sched_state().exit_info().kind(), 1026u);
}

// Kernels before scx_exit_info.flags: the exit info is complete without it.
TEST(ScxCapture, ExitInfoWithoutFlagsMember) {
  ScxWorldOptions o;
  o.omit = {"scx_exit_info.flags"};
  ScxWorld w(o);
  w.AttachScheduler("poc_stall");
  w.SetExit(1026, "runnable task stall", "msg", "", {});
  FailureDumpReport r = Capture(w);
  ASSERT_TRUE(r.scx_sched_state().has_exit_info());
  EXPECT_FALSE(r.scx_sched_state().exit_info().has_flags());
  EXPECT_EQ(r.scx_sched_state().exit_info().reason(), "runnable task stall");
  EXPECT_FALSE(r.has_scx_walker_unavailable()) << r.scx_walker_unavailable();
}

TEST(ScxCapture, CyclicDsqListIsTruncatedNotEndless) {
  ScxWorld w;
  w.AttachScheduler("sched");
  Kva a = w.NewTask(1, "a"), b = w.NewTask(2, "b");
  w.Enqueue(w.GlobalDsq(), a);
  w.Enqueue(w.GlobalDsq(), b);
  // b's next points back to a: the list never returns to its head.
  w.guest().PutPtr(b + testing::layout::kTaskScx + testing::layout::kSeeDsqListNode,
                   a + testing::layout::kTaskScx + testing::layout::kSeeDsqListNode);
  FailureDumpReport r = Capture(w);
  const DsqState* g = FindDsq(r, "global node 0");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->truncated());
  EXPECT_EQ(g->task_kvas_size(), 2);
}

TEST(ScxCapture, CyclicRunnableListFlagsTruncation) {
  ScxWorld w;
  Kva a = w.NewTask(1, "a"), b = w.NewTask(2, "b");
  w.AddRunnable(0, a);
  w.AddRunnable(0, b);
  w.guest().PutPtr(b + testing::layout::kTaskScx + testing::layout::kSeeRunnableNode,
                   b + testing::layout::kTaskScx + testing::layout::kSeeRunnableNode);
  FailureDumpReport r = Capture(w);
  ASSERT_EQ(r.rq_scx_states_size(), 2);
  EXPECT_TRUE(r.rq_scx_states(0).runnable_truncated());
  EXPECT_EQ(r.rq_scx_states(0).runnable_task_kvas_size(), 2);
}

TEST(ScxCapture, UnreadableSchedulerIsReportedNotZeroed) {
  ScxWorld w;
  w.AttachScheduler("sched");
  w.guest().PutPtr(w.view().symbols.Find("scx_root")->address, testing::FakeGuest::Unmapped());
  FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_scx_sched_state());
  EXPECT_NE(r.scx_walker_unavailable().find("scheduler state points to unreadable memory"),
            std::string::npos)
      << r.scx_walker_unavailable();
}

}  // namespace
}  // namespace kfreeze::walkers::scx
