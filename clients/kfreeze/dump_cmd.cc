// kfreeze dump --ram FILE [--qmp SOCK]: a freeze without a daemon. Same code as kfreezed
// (core/dump: attach, stop, registers || walk, cont), printed in the chosen format.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "core/dump/standard/standard_attachment.h"
#include "core/report/render_text.h"
#include "core/report/report_json.h"

ABSL_DECLARE_FLAG(std::string, ram);         // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, qmp);         // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, ram_layout);  // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, btf);         // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, format);      // maps_cmd.cc
ABSL_DECLARE_FLAG(std::string, out);         // maps_cmd.cc
ABSL_DECLARE_FLAG(int, deadline_ms);         // freeze_cmd.cc
ABSL_DECLARE_FLAG(std::string, sections);    // freeze_cmd.cc
ABSL_DECLARE_FLAG(std::string, label);       // freeze_cmd.cc

namespace kfreeze::cli {
namespace {

// --format is shared with `kfreeze maps` (default ktstr-json there); a dump prints text unless
// the flag was given. absl keeps "was it given" private, so look at our own command line.
bool FormatGiven() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0')) {
    if (arg == "--") return false;
    if (arg == "--format" || arg.rfind("--format=", 0) == 0) return true;
  }
  return false;
}

std::string DumpFormat() { return FormatGiven() ? absl::GetFlag(FLAGS_format) : "text"; }

std::string TargetNameFor(const std::string& ram) {
  std::string base = ram.substr(ram.rfind('/') + 1);
  return base.empty() ? "cli" : base;
}

int Write(const std::string& data) {
  const std::string& out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fwrite(data.data(), 1, data.size(), stdout);
    return kExitOk;
  }
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  if (!f.write(data.data(), static_cast<std::streamsize>(data.size()))) {
    return Fail(kExitFailure, absl::StrCat("cannot write ", out));
  }
  return kExitOk;
}

int RunDump(const std::vector<std::string>& args) {
  if (!args.empty()) return Fail(kExitInvalidInput, "usage: kfreeze dump --ram FILE [--qmp SOCK]");
  std::string format = DumpFormat();
  if (format != "text" && format != "proto-json" && format != "ktstr-json" && format != "binpb") {
    return Fail(kExitInvalidInput, "--format is text | proto-json | ktstr-json | binpb");
  }
  dump::AttachSpec spec;
  spec.ram_path = absl::GetFlag(FLAGS_ram);
  if (spec.ram_path.empty()) return Fail(kExitInvalidInput, "dump needs --ram FILE");
  spec.name = TargetNameFor(spec.ram_path);
  spec.qmp_socket = absl::GetFlag(FLAGS_qmp);
  spec.ram_layout = absl::GetFlag(FLAGS_ram_layout);
  spec.btf_path = absl::GetFlag(FLAGS_btf);
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> kernel =
      dump::AttachStandard(spec, dump::DefaultProviders());
  if (!kernel.ok()) return Fail(kExitFailure, absl::StrCat("attach: ", kernel.status().message()));

  dump::FreezeOptions options;
  if (absl::GetFlag(FLAGS_deadline_ms) > 0) {
    options.soft_deadline = std::chrono::milliseconds(absl::GetFlag(FLAGS_deadline_ms));
  }
  for (absl::string_view s :
       absl::StrSplit(absl::GetFlag(FLAGS_sections), ',', absl::SkipEmpty())) {
    options.sections.emplace_back(s);
  }
  std::shared_ptr<dump::KernelAttachment> k = *kernel;
  options.symbolize_ip = [k](uint64_t ip) { return k->SymbolizeIp(ip); };
  std::unique_ptr<dump::QmpControl> control;
  if (!spec.qmp_socket.empty()) {
    absl::StatusOr<std::unique_ptr<dump::QmpControl>> c =
        dump::QmpControl::Connect(spec.qmp_socket, options.control_timeout);
    if (!c.ok()) return Fail(kExitFailure, absl::StrCat("qmp: ", c.status().message()));
    control = std::move(*c);
  }
  absl::StatusOr<dump::FreezeOutcome> outcome =
      dump::RunFreeze(control.get(), k->phases(), options);
  if (!outcome.ok()) return Fail(kExitInvalidInput, std::string(outcome.status().message()));
  kfreeze::v1::DumpEnvelope& e = outcome->envelope;
  e.set_target(spec.name);
  e.set_trigger(kfreeze::v1::TRIGGER_CLI);
  e.set_kernel_release(k->kernel_release());
  if (!ParseLabels(absl::GetFlag(FLAGS_label), e.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  if (!outcome->resume_status.ok()) {
    std::fprintf(stderr, "kfreeze: resume failed, the VM may still be paused: %s\n",
                 std::string(outcome->resume_status.message()).c_str());
  }
  if (e.has_degraded())
    std::fprintf(stderr, "kfreeze: degraded dump: %s\n", e.degraded().reason().c_str());

  std::string data;
  if (format == "text") {
    data = report::RenderEnvelopeText(e);
    if (!data.empty() && data.back() != '\n') data.push_back('\n');
  } else if (format == "proto-json") {
    data = report::ToJson(e, report::JsonDialect::kProto3);
  } else if (format == "ktstr-json") {
    data = report::ToJson(*report::ReportOf(e), report::JsonDialect::kKtstr);
  } else {
    data = e.SerializeAsString();
  }
  int rc = Write(data);
  return rc != kExitOk ? rc : (outcome->resume_status.ok() ? kExitOk : kExitFailure);
}

const bool registered = RegisterCommand(
    {"dump",
     "dump --ram FILE [--qmp SOCK] [--deadline-ms N] [--sections a,b] "
     "[--format text|proto-json|ktstr-json|binpb] [--out FILE]: freeze and dump a VM "
     "without the daemon",
     &RunDump});

}  // namespace
}  // namespace kfreeze::cli
