// `kfreeze report parse|show|convert FILE|-`: offline handling of dump files.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "core/report/render_text.h"
#include "core/report/report_io.h"
#include "core/report/report_json.h"

namespace kfreeze::cli {
namespace {

using report::JsonDialect;

struct ReportArgs {
  std::string verb;
  std::string file;
  std::string to = "ktstr-json";
  std::string style = "default";
};

void Write(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int RunReport(const ReportArgs& a) {
  if (a.verb != "parse" && a.verb != "show" && a.verb != "convert") {
    return Fail(kExitInvalidInput, absl::StrCat("unknown report verb '", a.verb, "'"));
  }
  if (a.style != "default" && a.style != "kernel") {
    return Fail(kExitInvalidInput, absl::StrCat("--style: unknown style '", a.style, "'"));
  }
  auto bytes = report::ReadFileOrStdin(a.file);
  if (!bytes.ok()) return Fail(kExitInvalidInput, bytes.status().message());
  auto dump = report::LoadDump(*bytes);
  if (!dump.ok()) {
    return Fail(kExitInvalidInput, absl::StrCat(a.file, ": ", dump.status().message()));
  }
  const auto& envelope = dump->envelope;
  if (a.verb == "parse") {
    Write(absl::StrCat(report::SummaryLine(envelope), "\n"));
    return kExitOk;
  }
  if (a.verb == "show") {
    Write(report::RenderEnvelopeText(
        envelope, a.style == "kernel" ? report::TextStyle::kKernel : report::TextStyle::kDefault));
    return kExitOk;
  }
  if (a.to == "binpb") {
    Write(envelope.SerializeAsString());
  } else if (a.to == "proto-json" || a.to == "ktstr-json") {
    absl::StatusOr<std::string> json =
        report::ToJson(*report::ReportOf(envelope),
                       a.to == "proto-json" ? JsonDialect::kProto3 : JsonDialect::kKtstr);
    if (!json.ok()) return Fail(kExitFailure, json.status().message());
    Write(*json);
  } else {
    return Fail(kExitInvalidInput, absl::StrCat("--to: unknown format '", a.to, "'"));
  }
  return kExitOk;
}

RunFn SetupReport(CLI::App& app, const DaemonFlags& /*daemon*/) {
  auto a = std::make_shared<ReportArgs>();
  app.add_option("VERB", a->verb,
                 "parse (one summary line) | show (text for people) | convert (see --to)")
      ->required();
  app.add_option("FILE", a->file, "dump file (proto3 JSON, ktstr JSON or binpb), - for stdin")
      ->required();
  AddValueFlag(app, "--to", a->to, "convert: output format, one of proto-json|ktstr-json|binpb");
  AddValueFlag(app, "--style", a->style,
               "show: default (what a stall is about first, BPF maps last) | kernel (the layout "
               "of the kernel's sched_ext dump)");
  return [a] { return RunReport(*a); };
}

const bool registered = RegisterCommand(
    {"report", "read a dump file: parse | show [--style kernel] | convert [--to FORMAT] FILE|-",
     &SetupReport});

}  // namespace
}  // namespace kfreeze::cli
