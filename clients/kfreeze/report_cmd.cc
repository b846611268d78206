// `kfreeze report parse|show|convert FILE|-`: offline handling of dump files.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "clients/kfreeze/command.h"
#include "core/report/render_text.h"
#include "core/report/report_io.h"
#include "core/report/report_json.h"

ABSL_FLAG(std::string, to, "ktstr-json",
          "report convert: output format, one of proto-json|ktstr-json|binpb");

namespace kfreeze::cli {
namespace {

using report::JsonDialect;

void Write(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int RunReport(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return Fail(kExitInvalidInput, "usage: kfreeze report parse|show|convert FILE|-");
  }
  const std::string& verb = args[0];
  if (verb != "parse" && verb != "show" && verb != "convert") {
    return Fail(kExitInvalidInput, absl::StrCat("unknown report verb '", verb, "'"));
  }
  auto bytes = report::ReadFileOrStdin(args[1]);
  if (!bytes.ok()) return Fail(kExitInvalidInput, bytes.status().message());
  auto dump = report::LoadDump(*bytes);
  if (!dump.ok()) {
    return Fail(kExitInvalidInput, absl::StrCat(args[1], ": ", dump.status().message()));
  }
  const auto& envelope = dump->envelope;
  if (verb == "parse") {
    Write(absl::StrCat(report::SummaryLine(envelope), "\n"));
    return kExitOk;
  }
  if (verb == "show") {
    Write(report::RenderEnvelopeText(envelope));
    return kExitOk;
  }
  const std::string to = absl::GetFlag(FLAGS_to);
  if (to == "binpb") {
    Write(envelope.SerializeAsString());
  } else if (to == "proto-json" || to == "ktstr-json") {
    Write(report::ToJson(*report::ReportOf(envelope),
                         to == "proto-json" ? JsonDialect::kProto3 : JsonDialect::kKtstr));
  } else {
    return Fail(kExitInvalidInput, absl::StrCat("--to: unknown format '", to, "'"));
  }
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"report", "report parse|show|convert [--to proto-json|ktstr-json|binpb] FILE|-", RunReport});

}  // namespace
}  // namespace kfreeze::cli
