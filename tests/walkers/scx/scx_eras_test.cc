// The sched_ext walkers on every layout era from 6.12 to 7.3 (ScxWorld's member sets follow the
// real releases): the same scheduler, tasks and DSQs must come out of each, with the fields a
// kernel lacks absent and named in scx_features, never read as a silent 0.
#include <algorithm>
#include <string>

#include "core/base/reasons.h"
#include "core/walkers/scx/scx_capture.h"
#include "core/walkers/scx/scx_probes.h"
#include "gtest/gtest.h"
#include "tests/walkers/scx/scx_capture_util.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::scx {
namespace {

using kfreeze::testing::kAllScxEras;
using kfreeze::testing::ScxEra;
using kfreeze::testing::ScxEraName;
using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;
using kfreeze::v1::DsqState;
using kfreeze::v1::FailureDumpReport;

class ScxEras : public ::testing::TestWithParam<ScxEra> {
 protected:
  ScxEra era() const { return GetParam(); }
  bool AtLeast(ScxEra e) const { return era() >= e; }

  ScxWorld MakeWorld(uint32_t cpus = 2) {
    ScxWorldOptions o;
    o.era = era();
    o.cpus = cpus;
    return ScxWorld(o);
  }

  static FailureDumpReport Capture(ScxWorld& w) { return CaptureWorld(w); }
};

bool Absent(const FailureDumpReport& r, const std::string& field) {
  const auto& a = r.scx_features().absent_fields();
  return std::find(a.begin(), a.end(), field) != a.end();
}

TEST_P(ScxEras, RunningSchedulerComesOutTheSame) {
  ScxWorld w = MakeWorld(3);
  w.SetJiffies(10000);
  const Kva sched = w.AttachScheduler("era_sched", 7500);
  const Kva a = w.NewTask(101, "alpha"), b = w.NewTask(102, "beta"), c = w.NewTask(103, "gamma");
  for (Kva t : {a, b, c}) w.AddToScxTasks(t);
  w.SetCurr(0, a);
  w.AddRunnable(0, a);
  w.AddRunnable(2, b);
  w.Enqueue(w.LocalDsq(2), b);
  w.Enqueue(w.GlobalDsq(), c);
  w.SetRunnableAt(c, 9000);
  const Kva user = w.UserDsq(42);
  w.UserDsq(43);
  w.SetEventCounter(0, 2, 5);
  w.SetEventCounter(2, 2, 7);
  w.SetEventCounter(1, 6, 3);  // SCX_EV_REENQ_LOCAL_REPEAT, SCX_EV_REENQ_REPEAT from 7.3
  w.SetEventCounter(1, 7, 4);  // SCX_EV_REFILL_SLICE_DFL, SCX_EV_ENQ_SLICE_DFL in 6.15

  const FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_scx_walker_unavailable()) << r.scx_walker_unavailable();
  ASSERT_TRUE(r.has_scx_sched_state());
  const auto& s = r.scx_sched_state();
  EXPECT_EQ(s.sched_kva(), sched.value);
  EXPECT_EQ(s.ops_name(), "era_sched");
  EXPECT_EQ(s.enable_state(), "enabled");
  EXPECT_EQ(s.exit_kind(), 0u);
  EXPECT_EQ(s.watchdog_timeout(), 7500u);  // from scx_sched (7.1+) or the global before
  EXPECT_EQ(s.has_event_counters(), AtLeast(ScxEra::k6_15));
  if (s.has_event_counters()) {
    EXPECT_EQ(s.event_counters().dispatch_keep_last(), 12);
    EXPECT_EQ(s.event_counters().refill_slice_dfl(), 4);
    EXPECT_EQ(s.event_counters().reenq_local_repeat(), AtLeast(ScxEra::k7_1) ? 3 : 0);
  }

  ASSERT_EQ(r.rq_scx_states_size(), 3);
  EXPECT_EQ(r.rq_scx_states(0).curr_pid(), 101);
  EXPECT_EQ(r.rq_scx_states(2).runnable_task_kvas_size(), 1);
  EXPECT_EQ(r.rq_scx_states(0).has_rq_clock(), AtLeast(ScxEra::k6_14));
  EXPECT_TRUE(r.rq_scx_states(1).has_kick_sync());  // pnt_seq before 6.19
  EXPECT_EQ(r.rq_scx_states(1).has_nr_immed(), AtLeast(ScxEra::k7_1));

  for (int cpu = 0; cpu < 3; ++cpu) {
    EXPECT_NE(FindDsq(r, "local cpu " + std::to_string(cpu)), nullptr) << cpu;
    EXPECT_EQ(FindDsq(r, "bypass cpu " + std::to_string(cpu)) != nullptr, AtLeast(ScxEra::k7_1));
  }
  const DsqState* global = FindDsq(r, "global node 0");
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(global->task_kvas_size(), 1);
  EXPECT_EQ(global->oldest_runnable_age_jiffies(), 1000u);
  const DsqState* u = FindDsq(r, "user", 42);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->dsq_kva(), user.value);
  EXPECT_NE(FindDsq(r, "user", 43), nullptr);

  const auto& f = r.scx_features();
  EXPECT_EQ(f.layout(), AtLeast(ScxEra::k6_16) ? "scx_root" : "scx_ops_globals");
  EXPECT_EQ(f.event_counters_layout(), AtLeast(ScxEra::k6_18)   ? "sched_pcpu"
                                       : AtLeast(ScxEra::k6_16) ? "sched_event_stats_cpu"
                                       : AtLeast(ScxEra::k6_15) ? "global_percpu"
                                                                : "none");
  EXPECT_EQ(f.watchdog_timeout_field(), AtLeast(ScxEra::k7_1) ? "scx_sched" : "global");
  EXPECT_EQ(f.global_dsqs(), AtLeast(ScxEra::k7_1) ? "pnode" : "node_array");
  EXPECT_EQ(f.sub_sched(), AtLeast(ScxEra::k7_1));
  EXPECT_EQ(Absent(r, "rq_scx_state.rq_clock"), !AtLeast(ScxEra::k6_14));
  EXPECT_EQ(Absent(r, "rq_scx_state.ops_qseq"), AtLeast(ScxEra::k7_3));
  EXPECT_EQ(Absent(r, "scx_exit_info.flags"), !AtLeast(ScxEra::k6_18));
  EXPECT_EQ(Absent(r, "event_counter_sample.select_cpu_fallback"), !AtLeast(ScxEra::k6_15));
  EXPECT_EQ(Absent(r, "event_counter_sample.sub_bypass_dispatch"), !AtLeast(ScxEra::k7_1));
  EXPECT_EQ(Absent(r, "event_counter_sample.refill_slice_dfl"), !AtLeast(ScxEra::k6_15));
  EXPECT_EQ(Absent(r, "scx_sched_state.aborting"), !AtLeast(ScxEra::k7_1));
}

TEST_P(ScxEras, ErrorExitAfterTheDisableWorkKeepsItsKind) {
  ScxWorld w = MakeWorld();
  w.AttachScheduler("stalled");
  w.SetExit(1026, "runnable task stall", "task 7 stuck for 30s", "dump text", {0x1234});
  w.guest().Put<uint32_t>(w.ExitKindAddr(), 1);  // the disable work swapped in SCX_EXIT_DONE

  const FailureDumpReport r = Capture(w);
  ASSERT_TRUE(r.has_scx_sched_state()) << r.scx_walker_unavailable();
  EXPECT_EQ(r.scx_sched_state().exit_kind(), 1026u);
  EXPECT_EQ(r.scx_sched_state().exit_kind_raw(), 1u);
  const auto& ei = r.scx_sched_state().exit_info();
  EXPECT_EQ(ei.reason(), "runnable task stall");
  EXPECT_EQ(ei.msg(), "task 7 stuck for 30s");
  EXPECT_EQ(ei.dump(), "dump text");
  EXPECT_EQ(ei.has_flags(), AtLeast(ScxEra::k6_18));

  Reader reader = w.guest().MakeReader();
  const ScxContext ctx = BuildScxContext(w.view(), reader);
  absl::StatusOr<ExitProbeResult> probe = ProbeExitKind(reader, ctx);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_TRUE(probe->attached);
  EXPECT_EQ(probe->exit_kind, 1026u);
}

TEST_P(ScxEras, DetachedSchedulerSaysWhyAndKeepsPerCpuState) {
  ScxWorld w = MakeWorld();
  w.AttachScheduler("gone");
  w.DetachScheduler();
  const FailureDumpReport r = Capture(w);
  EXPECT_FALSE(r.has_scx_sched_state());
  EXPECT_EQ(r.scx_walker_unavailable(),
            AtLeast(ScxEra::k6_16) ? kReasonScxRootNull : kReasonScxOpsDisabled);
  EXPECT_EQ(r.rq_scx_states_size(), 2);
  EXPECT_NE(FindDsq(r, "local cpu 1"), nullptr);

  Reader reader = w.guest().MakeReader();
  const ScxContext ctx = BuildScxContext(w.view(), reader);
  absl::StatusOr<ExitProbeResult> probe = ProbeExitKind(reader, ctx);
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_FALSE(probe->attached);
}

TEST_P(ScxEras, TriggerScanReadsTheWatchdogWhereTheKernelKeepsIt) {
  ScxWorld w = MakeWorld();
  w.SetJiffies(5000);
  w.AttachScheduler("watched", 1234);
  const Kva t = w.NewTask(9, "waiter");
  w.AddRunnable(1, t);
  w.SetRunnableAt(t, 4000);
  Reader reader = w.guest().MakeReader();
  const ScxContext ctx = BuildScxContext(w.view(), reader);
  absl::StatusOr<RunnableAgeResult> ages = ScanRunnableAges(reader, ctx);
  ASSERT_TRUE(ages.ok()) << ages.status();
  EXPECT_EQ(ages->watchdog_timeout_jiffies, 1234u);
  EXPECT_EQ(ages->max_age_jiffies, 1000u);

  absl::StatusOr<kfreeze::v1::EventCounterSample> ev = SampleEventCounters(reader, ctx);
  EXPECT_EQ(ev.ok(), AtLeast(ScxEra::k6_15)) << ev.status();
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, ScxEras, ::testing::ValuesIn(kAllScxEras),
                         [](const ::testing::TestParamInfo<ScxEra>& info) {
                           std::string name = std::string("v") + ScxEraName(info.param);
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

}  // namespace
}  // namespace kfreeze::walkers::scx
