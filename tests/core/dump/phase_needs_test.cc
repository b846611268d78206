// RunPhases and DumpPhase::needs: a phase gets the typed outputs of the phases it needs whether
// or not their sections were requested, and an unrequested need leaves no trace in the report.
#include <chrono>
#include <string>
#include <vector>

#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/dump/run_phases.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using namespace std::chrono_literals;
using kfreeze::v1::FailureDumpReport;

struct Found {
  int value = 0;
};

struct Table {
  // "producer" writes its section (scx_walker_unavailable stands in for it) and puts Found{7};
  // "consumer" needs it and records what it got.
  PhaseTable Build(std::vector<std::string> consumer_needs = {"producer"},
                   bool producer_fails = false) {
    PhaseTable t;
    t.push_back(MakePhase(
        "producer",
        [this, producer_fails](PhaseContext& ctx) -> absl::Status {
          ++producer_runs;
          ctx.report().set_scx_walker_unavailable("producer's own section");
          if (producer_fails) return absl::DataLossError("unreadable");
          ctx.outputs().Put(Found{7});
          return absl::OkStatus();
        },
        [](FailureDumpReport& r, absl::string_view why) {
          r.set_scx_walker_unavailable(std::string(why));
        }));
    t.push_back(MakePhase(
        "consumer", std::move(consumer_needs),
        [this](PhaseContext& ctx) {
          const Found* f = ctx.outputs().Get<Found>();
          got = f ? f->value : -1;
          return absl::OkStatus();
        },
        [](FailureDumpReport& r, absl::string_view why) {
          r.set_task_enrichments_unavailable(std::string(why));
        }));
    return t;
  }

  int producer_runs = 0;
  int got = 0;
};

FailureDumpReport RunTable(const PhaseTable& table, const std::vector<std::string>& sections,
                           std::vector<kfreeze::v1::PhaseTiming>* timings) {
  FailureDumpReport report;
  const Deadline deadline = Deadline::FromNow(60s);
  PhaseContext ctx(deadline, report, /*live=*/false);
  RunPhases(table, sections, ctx, timings);
  return report;
}

TEST(PhaseNeeds, UnrequestedNeedRunsForItsOutputsOnly) {
  Table t;
  std::vector<kfreeze::v1::PhaseTiming> timings;
  FailureDumpReport r = RunTable(t.Build(), {"consumer"}, &timings);
  EXPECT_EQ(t.got, 7);
  EXPECT_EQ(t.producer_runs, 1);
  EXPECT_EQ(r.scx_walker_unavailable(), kReasonSectionNotRequested);
  ASSERT_EQ(timings.size(), 1u);
  EXPECT_EQ(timings[0].phase(), "consumer");
}

TEST(PhaseNeeds, RequestedNeedRunsOnceAndKeepsItsSection) {
  Table t;
  std::vector<kfreeze::v1::PhaseTiming> timings;
  FailureDumpReport r = RunTable(t.Build(), {}, &timings);
  EXPECT_EQ(t.got, 7);
  EXPECT_EQ(t.producer_runs, 1);
  EXPECT_EQ(r.scx_walker_unavailable(), "producer's own section");
  EXPECT_EQ(timings.size(), 2u);
}

TEST(PhaseNeeds, UndeclaredNeedSeesNoOutputs) {
  Table t;
  std::vector<kfreeze::v1::PhaseTiming> timings;
  RunTable(t.Build(/*consumer_needs=*/{}), {"consumer"}, &timings);
  EXPECT_EQ(t.got, -1);
  EXPECT_EQ(t.producer_runs, 0);
}

TEST(PhaseNeeds, FailedNeedLeavesItsOutputsAbsent) {
  Table t;
  std::vector<kfreeze::v1::PhaseTiming> timings;
  FailureDumpReport r =
      RunTable(t.Build({"producer"}, /*producer_fails=*/true), {"consumer"}, &timings);
  EXPECT_EQ(t.got, -1);
  EXPECT_EQ(r.scx_walker_unavailable(), kReasonSectionNotRequested);
  EXPECT_FALSE(r.has_task_enrichments_unavailable());
}

TEST(PhaseNeeds, NeedOfNoEarlierPhaseFailsTheNeedingPhase) {
  Table t;
  std::vector<kfreeze::v1::PhaseTiming> timings;
  FailureDumpReport r = RunTable(t.Build({"later"}), {}, &timings);
  EXPECT_EQ(t.got, 0) << "the consumer ran despite its broken need";
  EXPECT_NE(r.task_enrichments_unavailable().find("needs later"), std::string::npos)
      << r.task_enrichments_unavailable();
}

}  // namespace
}  // namespace kfreeze::dump
