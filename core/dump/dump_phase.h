// One part of a FailureDumpReport and the interface every walker implements to fill it.
//
// A dump is a table of phases run in order ("maps", "scx", "tasks", ...). Each phase owns a set
// of report fields and the *_unavailable reason that says why they are empty. Phases are built by
// whoever knows the concrete walkers (the target's attachment) and bound to that attachment, so
// this library never depends on them: new walkers plug in by implementing DumpPhase.
//
// Phases never read each other's report fields: a phase that builds on another's findings
// declares it in needs() and takes the typed value the other put in ctx.outputs(). RunPhases runs
// a needed phase even when its section was not requested (its fields then stay "section not
// requested"), so what a phase finds does not depend on the caller's section list.
#pragma once

#include <any>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <typeindex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/mem/guest_snapshot.h"
#include "core/mem/read_budget.h"
#include "core/mem/reader.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// Typed results one phase hands to later phases of the same dump (e.g. the task KVAs the scx walk
// saw). One value per type; a later Put of the same type replaces the earlier one.
class PhaseOutputs {
 public:
  template <typename T>
  void Put(T value) {
    values_[std::type_index(typeid(T))] = std::move(value);
  }
  // Null when no phase produced a T in this dump (not run, failed, or skipped).
  template <typename T>
  const T* Get() const {
    auto it = values_.find(std::type_index(typeid(T)));
    return it == values_.end() ? nullptr : std::any_cast<T>(&it->second);
  }

 private:
  absl::flat_hash_map<std::type_index, std::any> values_;
};

// What a running phase may touch: the report, the typed outputs of earlier phases, the deadline
// and budget, and whether vCPUs run. One per dump: its outputs live as long as the run.
class PhaseContext {
 public:
  PhaseContext(const Deadline& deadline, kfreeze::v1::FailureDumpReport& report, bool live,
               BudgetLimits limits = {})
      : deadline_(deadline),
        report_(report),
        sections_(&report),
        live_(live),
        budget_(limits, [&deadline] { return deadline.Expired(); }) {}

  const Deadline& deadline() const { return deadline_; }
  // The dump's two stages (see GuestSnapshot): a context with a snapshot in kRecord mode is the
  // copy stage inside the freeze window, one in kReplay mode the decode stage after `cont`.
  void UseSnapshot(GuestSnapshot* snapshot, SnapshotMode mode) {
    snapshot_ = snapshot;
    mode_ = mode;
  }
  // The stage this context runs: "copy", "decode", or "walk" (one stage, no snapshot).
  absl::string_view stage() const {
    return mode_ == SnapshotMode::kRecord   ? "copy"
           : mode_ == SnapshotMode::kReplay ? "decode"
                                            : "walk";
  }
  // The caller's cap on entries rendered per map (unset: the walker's default; 0: none).
  void set_max_map_entries(std::optional<uint32_t> n) { max_map_entries_ = n; }
  std::optional<uint32_t> max_map_entries() const { return max_map_entries_; }
  // Every Reader a phase uses goes through this: the dump's budget and the stage's page source.
  void Bind(Reader& reader) {
    reader.SetBudget(&budget_);
    reader.UseSnapshot(snapshot_, mode_);
  }
  // The dump's byte/node/memory budget, which also watches the deadline: a phase hands it to its
  // Readers (Reader::SetBudget) so its loops stop when either is spent. RunPhases stamps the cut.
  ReadBudget& budget() { return budget_; }
  // Where the running phase writes its section. For a phase run only because a later phase
  // needs its outputs, this is a scratch report that RunPhases drops afterwards.
  kfreeze::v1::FailureDumpReport& report() { return *sections_; }
  PhaseOutputs& outputs() { return outputs_; }
  // vCPUs keep running during the walk: values may be torn, lists may change under the walker.
  bool live() const { return live_; }

  // A phase that stops early because deadline().Expired() calls this; the first call stamps
  // report.dump_truncated_at_us (microseconds since the dump started), later calls keep it.
  void NoteTruncated();

  // Requested phases whose Run succeeded, in run order: the ones RunDecodes decodes.
  const std::vector<std::string>& completed() const { return completed_; }
  void NoteCompleted(absl::string_view phase) { completed_.emplace_back(phase); }

 private:
  friend class SectionRedirect;

  const Deadline& deadline_;
  GuestSnapshot* snapshot_ = nullptr;
  SnapshotMode mode_ = SnapshotMode::kDirect;
  std::optional<uint32_t> max_map_entries_;
  kfreeze::v1::FailureDumpReport& report_;    // the dump's report (truncation stamps)
  kfreeze::v1::FailureDumpReport* sections_;  // where report() points now
  bool live_;
  ReadBudget budget_;
  PhaseOutputs outputs_;
  std::vector<std::string> completed_;
};

// While alive, ctx.report() is a scratch report: what a phase run only for its outputs writes
// there is dropped, so its own section keeps the reason RunPhases gave it.
class SectionRedirect {
 public:
  explicit SectionRedirect(PhaseContext& ctx) : ctx_(ctx) { ctx_.sections_ = &scratch_; }
  ~SectionRedirect() { ctx_.sections_ = &ctx_.report_; }
  SectionRedirect(const SectionRedirect&) = delete;
  SectionRedirect& operator=(const SectionRedirect&) = delete;

 private:
  PhaseContext& ctx_;
  kfreeze::v1::FailureDumpReport scratch_;
};

class DumpPhase {
 public:
  virtual ~DumpPhase() = default;

  // Short stable name: the section name callers select and the PhaseTiming.phase label.
  virtual absl::string_view name() const = 0;

  // Phases (by name, each earlier in the table) whose ctx.outputs() this phase reads. RunPhases
  // runs them first whenever this phase runs, whether or not their sections were requested.
  virtual std::vector<std::string> needs() const { return {}; }

  // Fills this phase's fields. Check ctx.deadline() between items and stop (after
  // ctx.NoteTruncated() and any per-phase truncation count such as maps_truncated) when it has
  // passed. A non-OK status means the phase produced nothing usable; its message lands in the
  // phase's *_unavailable field through MarkUnavailable.
  virtual absl::Status Run(PhaseContext& ctx) = 0;

  // After the VM resumed: turns what Run copied into ctx.outputs() into report fields, so work
  // that needs no guest memory (unwinding, symbolizing) stays out of the freeze window. Runs only
  // after a successful Run, with the vCPUs' registers and memory (VcpuCapture) in ctx.outputs()
  // when they were read; `deadline` bounds it (the dump's hard deadline). A non-OK status lands
  // in the phase's *_unavailable field like a failed Run.
  virtual absl::Status Decode(PhaseContext& /*ctx*/, const Deadline& /*deadline*/) {
    return absl::OkStatus();
  }
  // True for phases that override Decode (only those get a "<name>_decode" timing).
  virtual bool decodes() const { return false; }

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
// The same, for a phase that reads the outputs of the phases named in `needs`.
std::shared_ptr<DumpPhase> MakePhase(std::string name, std::vector<std::string> needs,
                                     PhaseRunFn run, PhaseUnavailableFn unavailable);

// The section names of a table, in order.
std::vector<std::string> PhaseNames(const PhaseTable& table);

}  // namespace kfreeze::dump
