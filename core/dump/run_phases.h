// Runs a phase table under a soft deadline: the walk part of every dump (CLI and daemon).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/dump/dump_phase.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// The vCPU registers (HMP `info registers -a`, read inside the window beside the walk) and what
// hangs on them (running tasks paired with their vCPU, their stack bytes) are a section too: a
// caller who leaves "regs" out of a non-empty list spares the window QEMU's time to format them.
inline constexpr absl::string_view kRegistersSection = "regs";

// Whether `name` is asked for: an empty list asks for everything.
bool SectionSelected(const std::vector<std::string>& sections, absl::string_view name);

// InvalidArgument naming the unknown section(s) and the known ones (the phases and "regs").
// Empty = every section.
absl::Status ValidateSections(const PhaseTable& table, const std::vector<std::string>& sections);

// Runs the selected phases in table order. Between phases the deadline is checked: once it has
// passed, each remaining selected phase is skipped (PhaseTiming.skipped, its name appended to
// report.truncated_phases, its fields marked kReasonDeadlineExceeded) and the first crossing
// stamps report.dump_truncated_at_us. A phase that fails gets its status message as its
// unavailable reason; the walk goes on. Unselected phases are marked kReasonSectionNotRequested
// and get no timing. One PhaseTiming per selected phase is appended to `timings`.
// A selected phase's needs() run first, once per dump, even when not selected themselves (see
// DumpPhase::needs); the time of such an unrequested run counts in the needing phase's timing.
// The budget (ctx.budget()) is checked the same way: once spent, the remaining phases are skipped
// with its reason; a phase during which it was spent by bytes, memory or nodes keeps its output
// and gets the budget's status as its reason ("...; this section is partial").
void RunPhases(const PhaseTable& table, const std::vector<std::string>& sections, PhaseContext& ctx,
               std::vector<kfreeze::v1::PhaseTiming>* timings);

// After the resume: DumpPhase::Decode of every decoding phase in ctx.completed(), in table order,
// each timed as "<name>_decode". Past `deadline` the rest are skipped with kReasonDeadlineExceeded.
void RunDecodes(const PhaseTable& table, PhaseContext& ctx, const Deadline& deadline,
                std::vector<kfreeze::v1::PhaseTiming>* timings);

}  // namespace kfreeze::dump
