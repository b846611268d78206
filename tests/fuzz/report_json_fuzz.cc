// libFuzzer entry: ParseAnyReport must return (ok or InvalidArgument) on any input, never crash,
// hang or balloon. Accepted inputs must also survive a re-emit in both dialects.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/report/report_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = kfreeze::report::ParseAnyReport(text);
  if (!parsed.ok()) return 0;
  const auto* report = kfreeze::report::ReportOf(parsed->report);
  if (report == nullptr) __builtin_trap();
  for (auto dialect :
       {kfreeze::report::JsonDialect::kKtstr, kfreeze::report::JsonDialect::kProto3}) {
    auto json = kfreeze::report::ToJson(*report, dialect);
    // A refusal (nesting past protobuf's JSON printer limit) is an answer, not a crash.
    if (!json.ok()) continue;
    auto again = kfreeze::report::ParseAnyReport(*json);
    if (!again.ok()) __builtin_trap();  // our own output must always parse back
  }
  return 0;
}
