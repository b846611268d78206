// Phase table semantics: order, deadline skips, truncation stamps, failures, section selection.
#include "core/dump/run_phases.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/base/reasons.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::dump {
namespace {

using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::PhaseTiming;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A phase that records its runs into `log` and its unavailable reason into
// report.event_counter_timeline_unavailable prefixed by its name (one field, many phases).
std::shared_ptr<DumpPhase> Recording(std::string name, std::vector<std::string>* log,
                                     PhaseRunFn body = nullptr) {
  return MakePhase(
      name,
      [name, log, body](PhaseContext& ctx) {
        log->push_back(name);
        return body ? body(ctx) : absl::OkStatus();
      },
      [name](FailureDumpReport& report, absl::string_view reason) {
        std::string* f = report.mutable_event_counter_timeline_unavailable();
        if (!f->empty()) f->append(";");
        f->append(name + "=" + std::string(reason));
      });
}

std::vector<std::string> TimingNames(const std::vector<PhaseTiming>& timings) {
  std::vector<std::string> out;
  for (const auto& t : timings) out.push_back(t.phase() + (t.skipped() ? "(skipped)" : ""));
  return out;
}

TEST(RunPhases, RunsEveryPhaseInOrderWithTimings) {
  std::vector<std::string> log;
  PhaseTable table = {Recording("maps", &log), Recording("scx", &log), Recording("tasks", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::seconds(60));
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("maps", "scx", "tasks"));
  EXPECT_THAT(TimingNames(timings), ElementsAre("maps", "scx", "tasks"));
  EXPECT_FALSE(report.has_dump_truncated_at_us());
  EXPECT_EQ(report.truncated_phases_size(), 0);
  EXPECT_FALSE(report.has_event_counter_timeline_unavailable());
}

TEST(RunPhases, ExpiredDeadlineSkipsEveryPhaseAndStampsTruncation) {
  std::vector<std::string> log;
  PhaseTable table = {Recording("maps", &log), Recording("scx", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::milliseconds(0));
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_TRUE(log.empty());
  EXPECT_THAT(TimingNames(timings), ElementsAre("maps(skipped)", "scx(skipped)"));
  EXPECT_THAT(report.truncated_phases(), ElementsAre("maps", "scx"));
  EXPECT_TRUE(report.has_dump_truncated_at_us());
  EXPECT_EQ(report.event_counter_timeline_unavailable(),
            "maps=" + std::string(kReasonDeadlineExceeded) +
                ";scx=" + std::string(kReasonDeadlineExceeded));
}

TEST(RunPhases, PhaseThatOutlivesTheDeadlineTruncatesTheRest) {
  std::vector<std::string> log;
  // The first phase works item by item until the deadline passes, as a map walker does.
  PhaseTable table = {Recording("maps", &log,
                                [](PhaseContext& ctx) {
                                  uint32_t skipped = 0;
                                  while (!ctx.deadline().Expired()) std::this_thread::yield();
                                  ++skipped;
                                  ctx.report().set_maps_truncated(skipped);
                                  ctx.NoteTruncated();
                                  return absl::OkStatus();
                                }),
                      Recording("scx", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::milliseconds(50));  // room to start "maps"
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("maps"));
  EXPECT_THAT(TimingNames(timings), ElementsAre("maps", "scx(skipped)"));
  EXPECT_THAT(report.truncated_phases(), ElementsAre("scx"));
  EXPECT_EQ(report.maps_truncated(), 1u);
  // The first crossing (inside maps) is kept; the skip of scx does not move it.
  ASSERT_TRUE(report.has_dump_truncated_at_us());
  EXPECT_GE(report.dump_truncated_at_us(), 50000u);
  EXPECT_LE(report.dump_truncated_at_us(), deadline.ElapsedUs());
}

TEST(RunPhases, FailedPhaseRecordsItsReasonAndTheWalkGoesOn) {
  std::vector<std::string> log;
  PhaseTable table = {
      Recording("maps", &log, [](PhaseContext&) { return absl::DataLossError("map_idr cycle"); }),
      Recording("scx", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::seconds(60));
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("maps", "scx"));
  EXPECT_EQ(report.event_counter_timeline_unavailable(), "maps=map_idr cycle");
  EXPECT_EQ(report.truncated_phases_size(), 0);
}

TEST(RunPhases, ThrowingPhaseBecomesAnInternalReason) {
  std::vector<std::string> log;
  PhaseTable table = {
      Recording("maps", &log,
                [](PhaseContext&) -> absl::Status { throw std::length_error("vector too long"); }),
      Recording("scx", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::seconds(60));
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("maps", "scx"));
  EXPECT_THAT(report.event_counter_timeline_unavailable(), HasSubstr("vector too long"));
}

TEST(RunPhases, UnselectedSectionsAreMarkedAndNotTimed) {
  std::vector<std::string> log;
  PhaseTable table = {Recording("maps", &log), Recording("scx", &log), Recording("tasks", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::seconds(60));
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {"scx"}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("scx"));
  EXPECT_THAT(TimingNames(timings), ElementsAre("scx"));
  EXPECT_EQ(report.event_counter_timeline_unavailable(),
            "maps=section not requested;tasks=section not requested");
}

TEST(RunPhases, UnknownSectionIsRejectedWithTheKnownNames) {
  std::vector<std::string> log;
  PhaseTable table = {Recording("maps", &log), Recording("scx", &log)};
  absl::Status s = ValidateSections(table, {"scx", "bogus"});
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_THAT(std::string(s.message()), HasSubstr("bogus"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("known: maps, scx"));
  EXPECT_TRUE(ValidateSections(table, {"maps"}).ok());
  EXPECT_TRUE(ValidateSections(table, {}).ok());
}

TEST(RunPhases, CancelFlagActsAsAnExpiredDeadline) {
  std::vector<std::string> log;
  std::atomic<bool> cancel{false};
  PhaseTable table = {Recording("maps", &log,
                                [&cancel](PhaseContext&) {
                                  cancel = true;
                                  return absl::OkStatus();
                                }),
                      Recording("scx", &log)};
  FailureDumpReport report;
  Deadline deadline = Deadline::FromNow(std::chrono::seconds(60), &cancel);
  PhaseContext ctx(deadline, report, false);
  std::vector<PhaseTiming> timings;
  RunPhases(table, {}, ctx, &timings);
  EXPECT_THAT(log, ElementsAre("maps"));
  EXPECT_THAT(report.truncated_phases(), ElementsAre("scx"));
}

}  // namespace
}  // namespace kfreeze::dump
