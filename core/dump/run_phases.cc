#include "core/dump/run_phases.h"

#include <algorithm>
#include <exception>

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/reasons.h"

namespace kfreeze::dump {
namespace {

// Walkers must not throw, but a std::bad_alloc on hostile sizes must not skip the resume either:
// the failure becomes the phase's reason like any other error.
template <class Fn>
absl::Status Guarded(Fn fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("phase threw: ", e.what()));
  } catch (...) {
    return absl::InternalError("phase threw a non-standard exception");
  }
}

absl::Status RunGuarded(DumpPhase& phase, PhaseContext& ctx) {
  return Guarded([&] { return phase.Run(ctx); });
}

// Why a phase is skipped: the budget's own reason once one was spent, else the deadline.
absl::string_view SkipReason(const ReadBudget& budget) {
  return budget.cut() == ReadBudget::Cut::kNone ? kReasonDeadlineExceeded : budget.reason();
}

// Runs, at most once per dump, the phases whose outputs the phase at `index` needs. A needed
// phase that was not requested writes its section into a scratch report (its own section keeps
// kReasonSectionNotRequested); one that was requested has already run in table order. A need
// that names no earlier phase is a table bug and fails the needing phase.
absl::Status RunNeeds(const PhaseTable& table, size_t index, PhaseContext& ctx,
                      std::vector<bool>& attempted) {
  for (const std::string& need : table[index]->needs()) {
    size_t j = 0;
    while (j < index && table[j]->name() != need) ++j;
    if (j == index) {
      return absl::InternalError(absl::StrCat("phase ", table[index]->name(), " needs ", need,
                                              ", which is not an earlier phase of the table"));
    }
    if (attempted[j]) continue;
    attempted[j] = true;
    if (absl::Status s = RunNeeds(table, j, ctx, attempted); !s.ok()) return s;
    SectionRedirect scratch(ctx);
    // Its failure leaves its outputs absent; the needing phase says what that cost it.
    RunGuarded(*table[j], ctx).IgnoreError();
  }
  return absl::OkStatus();
}

// Which stage cut `phase` and why. A decode walk that stopped where the copy stage had stopped
// names the copy stage: that is where the time or the budget ran out.
void NoteStageCut(PhaseContext& ctx, kfreeze::v1::FailureDumpReport& report,
                  absl::string_view phase, absl::string_view reason) {
  const bool by_copy = ctx.budget().cut() == ReadBudget::Cut::kCopyStage;
  kfreeze::v1::StageCut* cut = report.add_stage_cuts();
  cut->set_stage(by_copy ? "copy" : std::string(ctx.stage()));
  cut->set_phase(std::string(phase));
  cut->set_reason(std::string(reason));
}

}  // namespace

bool SectionSelected(const std::vector<std::string>& sections, absl::string_view name) {
  return sections.empty() || std::find(sections.begin(), sections.end(), name) != sections.end();
}

absl::Status ValidateSections(const PhaseTable& table, const std::vector<std::string>& sections) {
  std::vector<std::string> known = PhaseNames(table);
  known.emplace_back(kRegistersSection);
  std::vector<std::string> unknown;
  for (const std::string& s : sections) {
    if (std::find(known.begin(), known.end(), s) == known.end()) unknown.push_back(s);
  }
  if (unknown.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("unknown section(s) ",
                                                 absl::StrJoin(unknown, ", "),
                                                 "; known: ", absl::StrJoin(known, ", ")));
}

void RunPhases(const PhaseTable& table, const std::vector<std::string>& sections, PhaseContext& ctx,
               std::vector<kfreeze::v1::PhaseTiming>* timings) {
  kfreeze::v1::FailureDumpReport& report = ctx.report();
  std::vector<bool> attempted(table.size(), false);
  for (size_t i = 0; i < table.size(); ++i) {
    const auto& phase = table[i];
    if (!SectionSelected(sections, phase->name())) {
      phase->MarkUnavailable(report, kReasonSectionNotRequested);
      continue;
    }
    attempted[i] = true;
    kfreeze::v1::PhaseTiming timing;
    timing.set_phase(std::string(phase->name()));
    if (ctx.deadline().Expired() || ctx.budget().Exhausted()) {
      ctx.NoteTruncated();
      report.add_truncated_phases(std::string(phase->name()));
      phase->MarkUnavailable(report, SkipReason(ctx.budget()));
      NoteStageCut(ctx, report, phase->name(), SkipReason(ctx.budget()));
      timing.set_skipped(true);
      timings->push_back(std::move(timing));
      continue;
    }
    auto begin = Deadline::Clock::now();
    absl::Status status = RunNeeds(table, i, ctx, attempted);
    if (status.ok()) status = RunGuarded(*phase, ctx);
    timing.set_duration_us(MicrosBetween(begin, Deadline::Clock::now()));
    if (status.ok()) ctx.NoteCompleted(phase->name());
    if (!status.ok()) {
      phase->MarkUnavailable(report, status.message());
    } else if (ctx.budget().cut() != ReadBudget::Cut::kNone) {
      // Cut mid-phase: what it produced stays, and its reason says it is partial. A deadline cut
      // is already stamped by the phases that watch it (maps_truncated, their partial reasons).
      ctx.NoteTruncated();
      if (ctx.budget().cut() != ReadBudget::Cut::kDeadline) {
        phase->MarkUnavailable(
            report, absl::StrCat(ctx.budget().status().message(), "; this section is partial"));
      }
      NoteStageCut(ctx, report, phase->name(), ctx.budget().status().message());
    }
    timings->push_back(std::move(timing));
  }
}

void RunDecodes(const PhaseTable& table, PhaseContext& ctx, const Deadline& deadline,
                std::vector<kfreeze::v1::PhaseTiming>* timings) {
  const std::vector<std::string>& completed = ctx.completed();
  for (const auto& phase : table) {
    if (!phase->decodes()) continue;
    if (std::find(completed.begin(), completed.end(), phase->name()) == completed.end()) continue;
    kfreeze::v1::PhaseTiming timing;
    timing.set_phase(absl::StrCat(phase->name(), "_decode"));
    if (deadline.Expired()) {
      phase->MarkUnavailable(ctx.report(), kReasonDeadlineExceeded);
      timing.set_skipped(true);
      timings->push_back(std::move(timing));
      continue;
    }
    auto begin = Deadline::Clock::now();
    absl::Status status = Guarded([&] { return phase->Decode(ctx, deadline); });
    timing.set_duration_us(MicrosBetween(begin, Deadline::Clock::now()));
    if (!status.ok()) phase->MarkUnavailable(ctx.report(), status.message());
    timings->push_back(std::move(timing));
  }
}

}  // namespace kfreeze::dump
