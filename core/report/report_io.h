// Reading a dump from bytes of unknown format: report JSON (either dialect), envelope JSON, or a
// binary DumpEnvelope (what the archive stores).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/report/report_json.h"

namespace kfreeze::report {

enum class DumpFormat { kKtstrJson, kProto3Json, kEnvelopeJson, kBinaryEnvelope };

struct LoadedDump {
  DumpFormat format;
  kfreeze::v1::DumpEnvelope envelope;  // metadata empty unless the input was an envelope
};

absl::StatusOr<LoadedDump> LoadDump(std::string_view bytes);

// Reads a whole file, or standard input for "-". Bounded (kMaxDumpFileBytes) so a wrong path
// such as a RAM file cannot balloon the process.
inline constexpr size_t kMaxDumpFileBytes = size_t{1} << 30;
absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path);

}  // namespace kfreeze::report
