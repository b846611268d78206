// One part of a FailureDumpReport and the interface every walker implements to fill it.
//
// A dump is a table of phases run in order ("maps", "scx", "tasks", ...). Each phase owns a set
// of report fields and the *_unavailable reason that says why they are empty. Phases are built by
// whoever knows the concrete walkers (the target's attachment) and bound to that attachment, so
// this library never depends on them: new walkers plug in by implementing DumpPhase.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "core/dump/deadline.h"
#include "core/mem/read_budget.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// kfreeze's own reason for a phase the caller did not ask for (FreezeRequest.sections).
inline constexpr absl::string_view kReasonSectionNotRequested = "section not requested";

// What a running phase may touch: the report, the deadline and budget, and whether vCPUs run.
class PhaseContext {
 public:
  PhaseContext(const Deadline& deadline, kfreeze::v1::FailureDumpReport& report, bool live,
               BudgetLimits limits = {})
      : deadline_(deadline),
        report_(report),
        live_(live),
        budget_(limits, [&deadline] { return deadline.Expired(); }) {}

  const Deadline& deadline() const { return deadline_; }
  // The dump's byte/node/memory budget, which also watches the deadline: a phase hands it to its
  // Readers (Reader::SetBudget) so its loops stop when either is spent. RunPhases stamps the cut.
  ReadBudget& budget() { return budget_; }
  kfreeze::v1::FailureDumpReport& report() { return report_; }
  // vCPUs keep running during the walk: values may be torn, lists may change under the walker.
  bool live() const { return live_; }

  // A phase that stops early because deadline().Expired() calls this; the first call stamps
  // report.dump_truncated_at_us (microseconds since the dump started), later calls keep it.
  void NoteTruncated();

 private:
  const Deadline& deadline_;
  kfreeze::v1::FailureDumpReport& report_;
  bool live_;
  ReadBudget budget_;
};

class DumpPhase {
 public:
  virtual ~DumpPhase() = default;

  // Short stable name: the section name callers select and the PhaseTiming.phase label.
  virtual absl::string_view name() const = 0;

  // Fills this phase's fields. Check ctx.deadline() between items and stop (after
  // ctx.NoteTruncated() and any per-phase truncation count such as maps_truncated) when it has
  // passed. A non-OK status means the phase produced nothing usable; its message lands in the
  // phase's *_unavailable field through MarkUnavailable.
  virtual absl::Status Run(PhaseContext& ctx) = 0;

  // Writes `reason` to the *_unavailable field(s) this phase owns. Called for a failed Run, a
  // phase skipped after the deadline, and a section the caller did not request.
  virtual void MarkUnavailable(kfreeze::v1::FailureDumpReport& report,
                               absl::string_view reason) const = 0;
};

// Phases in run order. shared_ptr: one table is built per attachment and shared by every freeze
// of that target, and by concurrent readers listing the section names.
using PhaseTable = std::vector<std::shared_ptr<DumpPhase>>;

// A phase from two functions, for small phases and tests.
using PhaseRunFn = std::function<absl::Status(PhaseContext&)>;
using PhaseUnavailableFn =
    std::function<void(kfreeze::v1::FailureDumpReport&, absl::string_view reason)>;
std::shared_ptr<DumpPhase> MakePhase(std::string name, PhaseRunFn run,
                                     PhaseUnavailableFn unavailable);

// The section names of a table, in order.
std::vector<std::string> PhaseNames(const PhaseTable& table);

}  // namespace kfreeze::dump
