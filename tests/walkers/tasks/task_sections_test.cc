// The tasks phase finds the same tasks whether or not the scx section was requested: it takes
// the tasks the scx walk met as a typed dump output (its declared need), never from the report.
#include <chrono>
#include <string>
#include <vector>

#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/dump/run_phases.h"
#include "core/walkers/phases/kernel_walker_phases.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers {
namespace {

using namespace std::chrono_literals;
using kfreeze::testing::ScxWorld;
using kfreeze::v1::FailureDumpReport;

struct Dump {
  FailureDumpReport report;
  std::vector<kfreeze::v1::PhaseTiming> timings;
};

Dump RunSections(ScxWorld& w, const std::vector<std::string>& sections) {
  const dump::PhaseTable table = KernelWalkerPhases(WalkerSource{
      .view = w.view(), .new_reader = [&w] { return w.guest().MakeReader(); }, .owner = nullptr});
  Dump d;
  const dump::Deadline deadline = dump::Deadline::FromNow(60s);
  dump::PhaseContext ctx(deadline, d.report, /*live=*/false);
  dump::RunPhases(table, sections, ctx, &d.timings);
  return d;
}

std::vector<std::string> Tasks(const FailureDumpReport& r) {
  std::vector<std::string> out;
  for (const auto& t : r.task_enrichments()) out.push_back(t.ShortDebugString());
  return out;
}

TEST(TaskSections, TasksAloneFindTheSameTasksAsAFullDump) {
  ScxWorld w;
  w.SetJiffies(5000);
  w.AttachScheduler("sched");
  Kva listed = w.NewTask(10, "listed");
  // Known only through the scx walk: not on scx_tasks.
  Kva queued = w.NewTask(11, "dsq_only"), running = w.NewTask(12, "curr_only");
  w.AddToScxTasks(listed);
  w.AddRunnable(0, listed);
  w.Enqueue(w.GlobalDsq(), queued);
  w.SetCurr(1, running);

  const Dump full = RunSections(w, {});
  const Dump tasks_only = RunSections(w, {"tasks"});

  ASSERT_EQ(full.report.task_enrichments_size(), 3) << full.report.task_enrichments_unavailable();
  EXPECT_EQ(Tasks(tasks_only.report), Tasks(full.report));
  EXPECT_EQ(tasks_only.report.task_enrichments_unavailable(),
            full.report.task_enrichments_unavailable());
  bool running_seen = false;
  for (const auto& t : tasks_only.report.task_enrichments()) {
    if (t.task_kva() == running.value) running_seen = t.is_running();
  }
  EXPECT_TRUE(running_seen) << "rq->curr of cpu 1 lost its is_running without the scx section";

  // The scx walk ran for its outputs only: its section stays unrequested, and only "tasks" is
  // timed.
  EXPECT_EQ(tasks_only.report.scx_walker_unavailable(), kReasonSectionNotRequested);
  EXPECT_EQ(tasks_only.report.rq_scx_states_size(), 0);
  EXPECT_EQ(tasks_only.report.dsq_states_size(), 0);
  EXPECT_FALSE(tasks_only.report.has_scx_sched_state());
  ASSERT_EQ(tasks_only.timings.size(), 1u);
  EXPECT_EQ(tasks_only.timings[0].phase(), "tasks");
  EXPECT_GT(full.report.rq_scx_states_size(), 0);
}

}  // namespace
}  // namespace kfreeze::walkers
