#include "core/report/report_io.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include <cctype>
#include "absl/strings/str_cat.h"

namespace kfreeze::report {

absl::StatusOr<LoadedDump> LoadDump(std::string_view bytes) {
  std::string_view trimmed = bytes;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
    trimmed.remove_prefix(1);
  if (!trimmed.empty() && trimmed.front() == '{') {
    auto parsed = ParseAnyReport(bytes);
    if (parsed.ok()) {
      return LoadedDump{
          parsed->dialect == JsonDialect::kKtstr ? DumpFormat::kKtstrJson : DumpFormat::kProto3Json,
          std::move(parsed->report)};
    }
    // An envelope has no top-level "schema" but one of single/dual/degraded.
    kfreeze::v1::DumpEnvelope envelope;
    if (FromJson(bytes, JsonDialect::kProto3, &envelope).ok() &&
        envelope.report_case() != kfreeze::v1::DumpEnvelope::REPORT_NOT_SET) {
      return LoadedDump{DumpFormat::kEnvelopeJson, std::move(envelope)};
    }
    return parsed.status();
  }
  kfreeze::v1::DumpEnvelope envelope;
  if (!bytes.empty() && envelope.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) &&
      envelope.report_case() != kfreeze::v1::DumpEnvelope::REPORT_NOT_SET) {
    return LoadedDump{DumpFormat::kBinaryEnvelope, std::move(envelope)};
  }
  return absl::InvalidArgumentError("not JSON and not a binary kfreeze dump");
}

absl::StatusOr<std::string> ReadFileOrStdin(const std::string& path) {
  std::string data;
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.append(buf, n);
    if (data.size() > kMaxDumpFileBytes) {
      if (f != stdin) std::fclose(f);
      return absl::InvalidArgumentError(absl::StrCat(path, ": larger than 1 GiB"));
    }
  }
  bool error = std::ferror(f);
  if (f != stdin) std::fclose(f);
  if (error) return absl::DataLossError(absl::StrCat("read error on ", path));
  return data;
}

}  // namespace kfreeze::report
