// `kfreeze maps --ram FILE [--format proto-json|ktstr-json] [--out FILE]`: attach and print the
// guest's BPF maps (a FailureDumpReport holding only `maps`), without freezing the VM.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "clients/kfreeze/command.h"
#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/kernel/kernel_context.h"
#include "core/report/report_json.h"
#include "core/walkers/maps/maps_phase.h"

// Defined by inspect_cmd.cc (the attach flags every guest-reading command shares).
ABSL_DECLARE_FLAG(std::string, ram);
ABSL_DECLARE_FLAG(std::string, ram_layout);
ABSL_DECLARE_FLAG(std::string, qmp);
ABSL_DECLARE_FLAG(std::string, btf);

// Output flags; other report-printing commands can ABSL_DECLARE_FLAG them.
ABSL_FLAG(std::string, format, "ktstr-json",
          "output format: proto-json | ktstr-json (dump also: text | binpb)");
ABSL_FLAG(std::string, out, "", "write the output to this file instead of stdout");

namespace kfreeze::cli {
namespace {

int RunMaps(const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(kExitInvalidInput, "usage: kfreeze maps --ram FILE [--format F]");
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "proto-json" && format != "ktstr-json") {
    return Fail(kExitInvalidInput, absl::StrCat("--format: unknown format '", format, "'"));
  }
  AttachOptions options;
  options.ram_path = absl::GetFlag(FLAGS_ram);
  options.ram_layout = absl::GetFlag(FLAGS_ram_layout);
  options.qmp_socket = absl::GetFlag(FLAGS_qmp);
  options.btf_path = absl::GetFlag(FLAGS_btf);
  if (options.ram_path.empty()) return Fail(kExitInvalidInput, "--ram is required");
  absl::StatusOr<std::shared_ptr<const KernelContext>> kernel = KernelContext::Attach(options);
  if (!kernel.ok()) return Fail(kExitFailure, absl::StrCat("attach: ", kernel.status().message()));

  kfreeze::v1::FailureDumpReport report;
  report.set_schema(std::string(kSchemaSingle));
  std::shared_ptr<dump::DumpPhase> phase = walkers::maps::MakeMapsPhase(*kernel);
  dump::Deadline deadline;  // no budget: the VM is not frozen by this command
  dump::PhaseContext ctx(deadline, report, /*live=*/true);
  if (absl::Status st = phase->Run(ctx); !st.ok()) phase->MarkUnavailable(report, st.message());

  const std::string json = report::ToJson(
      report, format == "proto-json" ? report::JsonDialect::kProto3 : report::JsonDialect::kKtstr);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fwrite(json.data(), 1, json.size(), stdout);
  } else {
    std::ofstream file(out, std::ios::binary);
    file << json;
    if (!file) return Fail(kExitFailure, absl::StrCat("cannot write ", out));
  }
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"maps", "maps --ram FILE [--format proto-json|ktstr-json] [--out FILE]", RunMaps});

}  // namespace
}  // namespace kfreeze::cli
