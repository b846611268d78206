// `kfreeze maps --ram FILE [--format proto-json|ktstr-json] [--out FILE]`: attach and print the
// guest's BPF maps (a FailureDumpReport holding only `maps`), without freezing the VM.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/kernel/kernel_context.h"
#include "core/qmp/qmp_client.h"
#include "core/report/report_json.h"
#include "core/report/static_reasons.h"
#include "core/walkers/phases/maps_phase.h"

namespace kfreeze::cli {
namespace {

struct MapsArgs {
  GuestFlags guest;
  std::string format = "ktstr-json";
  std::string out;
};

int RunMaps(const MapsArgs& a) {
  if (a.format != "proto-json" && a.format != "ktstr-json") {
    return Fail(kExitInvalidInput, absl::StrCat("--format: unknown format '", a.format, "'"));
  }
  AttachOptions options;
  options.ram_path = a.guest.ram;
  options.ram_layout = a.guest.ram_layout;
  if (!a.guest.qmp.empty()) {
    options.memory_tree = [socket = a.guest.qmp] { return FetchMemoryTree(socket); };
  }
  options.btf_path = a.guest.btf;
  if (options.ram_path.empty()) return Fail(kExitInvalidInput, "--ram is required");
  absl::StatusOr<std::shared_ptr<const KernelContext>> kernel = KernelContext::Attach(options);
  if (!kernel.ok()) return Fail(kExitFailure, absl::StrCat("attach: ", kernel.status().message()));

  kfreeze::v1::FailureDumpReport report;
  report.set_schema(std::string(kSchemaSingle));
  report::StampStaticReasons(report);
  std::shared_ptr<dump::DumpPhase> phase = walkers::maps::MakeMapsPhase(*kernel);
  dump::Deadline deadline;  // no budget: the VM is not frozen by this command
  dump::PhaseContext ctx(deadline, report, /*live=*/true);
  if (absl::Status st = phase->Run(ctx); !st.ok()) phase->MarkUnavailable(report, st.message());

  const absl::StatusOr<std::string> json =
      report::ToJson(report, a.format == "proto-json" ? report::JsonDialect::kProto3
                                                      : report::JsonDialect::kKtstr);
  if (!json.ok()) return Fail(kExitFailure, json.status().message());
  if (a.out.empty()) {
    std::fwrite(json->data(), 1, json->size(), stdout);
  } else {
    std::ofstream file(a.out, std::ios::binary);
    file << *json;
    if (!file) return Fail(kExitFailure, absl::StrCat("cannot write ", a.out));
  }
  return kExitOk;
}

RunFn SetupMaps(CLI::App& app, const DaemonFlags& /*daemon*/) {
  auto a = std::make_shared<MapsArgs>();
  AddGuestFlags(app, a->guest);
  AddValueFlag(app, "--format", a->format, "output format: proto-json | ktstr-json");
  AddValueFlag(app, "--out", a->out, "write the output to this file instead of stdout");
  return [a] { return RunMaps(*a); };
}

const bool registered = RegisterCommand(
    {"maps", "print the guest's BPF maps (read from RAM, the VM keeps running)", &SetupMaps});

}  // namespace
}  // namespace kfreeze::cli
