// sched_ext exit kinds (enum scx_exit_kind) by name, and the exit kind a report stands for.
// The numbers are the kernel's ABI (BPF schedulers compare against them in user space), stable
// since 6.12; a value not in the table is shown and matched as its number.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::report {

// "SCX_EXIT_ERROR_STALL" for 1026; "" for a number the table lacks.
std::string ScxExitKindName(uint32_t kind);

// A caller's spelling of an exit kind: the kernel's name ("SCX_EXIT_ERROR_STALL"), the same
// without the prefix or in lower case ("error_stall"), or a decimal number. nullopt otherwise.
std::optional<uint32_t> ParseScxExitKind(absl::string_view text);

// The exit kind of a dump: the sched_ext state of a single report, of a dual report's late
// side, of a degraded report (its own exit_kind, else its partial report's). exit_info's kind
// wins once the kernel's disable work moved it there. 0 when the dump has none.
uint32_t DumpExitKind(const kfreeze::v1::DumpEnvelope& envelope);

// The scheduler (sched_ext_ops name) the dump saw; "" when none.
std::string DumpScheduler(const kfreeze::v1::DumpEnvelope& envelope);

}  // namespace kfreeze::report
