#include "core/report/scx_exit_kind.h"

#include <array>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/report/envelope_captures.h"

namespace kfreeze::report {
namespace {

constexpr absl::string_view kPrefix = "SCX_EXIT_";

constexpr std::array<std::pair<uint32_t, absl::string_view>, 9> kExitKinds = {{
    {0, "SCX_EXIT_NONE"},
    {1, "SCX_EXIT_DONE"},
    {64, "SCX_EXIT_UNREG"},
    {65, "SCX_EXIT_UNREG_BPF"},
    {66, "SCX_EXIT_UNREG_KERN"},
    {67, "SCX_EXIT_SYSRQ"},
    {1024, "SCX_EXIT_ERROR"},
    {1025, "SCX_EXIT_ERROR_BPF"},
    {1026, "SCX_EXIT_ERROR_STALL"},
}};

}  // namespace

std::string ScxExitKindName(uint32_t kind) {
  for (const auto& [value, name] : kExitKinds) {
    if (value == kind) return std::string(name);
  }
  return "";
}

std::optional<uint32_t> ParseScxExitKind(absl::string_view text) {
  uint32_t number = 0;
  if (absl::SimpleAtoi(text, &number)) return number;
  std::string upper = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(upper, kPrefix)) upper = absl::StrCat(kPrefix, upper);
  for (const auto& [value, name] : kExitKinds) {
    if (name == upper) return value;
  }
  return std::nullopt;
}

uint32_t DumpExitKind(const kfreeze::v1::DumpEnvelope& envelope) {
  if (envelope.has_degraded() && envelope.degraded().has_exit_kind()) {
    return envelope.degraded().exit_kind();
  }
  const kfreeze::v1::FailureDumpReport* r = FindCapture(envelope, "late");
  if (r == nullptr || !r->has_scx_sched_state()) return 0;
  const kfreeze::v1::ScxSchedState& s = r->scx_sched_state();
  if (s.has_exit_info() && s.exit_info().kind() != 0) return s.exit_info().kind();
  return s.exit_kind();
}

std::string DumpScheduler(const kfreeze::v1::DumpEnvelope& envelope) {
  const kfreeze::v1::FailureDumpReport* r = FindCapture(envelope, "late");
  if (r == nullptr || !r->has_scx_sched_state()) return "";
  return r->scx_sched_state().ops_name();
}

}  // namespace kfreeze::report
