// kfreeze dump --ram FILE [--qmp SOCK]: a freeze without a daemon. Same code as kfreezed
// (core/dump: attach, stop, registers || walk, cont), printed in the chosen format.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "core/base/reasons.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "core/dump/standard/standard_attachment.h"
#include "core/dump/vcpu_perf.h"
#include "core/mem/guest_snapshot.h"
#include "core/report/render_text.h"
#include "core/report/report_json.h"

namespace kfreeze::cli {
namespace {

struct DumpArgs {
  GuestFlags guest;
  int deadline_ms = 0;
  int64_t max_map_entries = -1;  // -1: the walker's default
  int decode_deadline_ms = 0;
  std::string sections;
  std::string label;
  std::string format = "text";
  std::string out;
};

std::string TargetNameFor(const std::string& ram) {
  std::string base = ram.substr(ram.rfind('/') + 1);
  return base.empty() ? "cli" : base;
}

int Write(const std::string& data, const std::string& out) {
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

int RunDump(const DumpArgs& a) {
  const std::string& format = a.format;
  if (format != "text" && format != "proto-json" && format != "ktstr-json" && format != "binpb") {
    return Fail(kExitInvalidInput, "--format is text | proto-json | ktstr-json | binpb");
  }
  dump::AttachSpec spec;
  spec.ram_path = a.guest.ram;
  if (spec.ram_path.empty()) return Fail(kExitInvalidInput, "dump needs --ram FILE");
  spec.name = TargetNameFor(spec.ram_path);
  spec.qmp_socket = a.guest.qmp;
  spec.ram_layout = a.guest.ram_layout;
  spec.btf_path = a.guest.btf;
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> kernel =
      dump::AttachStandard(spec, dump::DefaultProviders());
  if (!kernel.ok()) return Fail(kExitFailure, absl::StrCat("attach: ", kernel.status().message()));

  dump::FreezeOptions options;
  if (a.deadline_ms > 0) options.soft_deadline = std::chrono::milliseconds(a.deadline_ms);
  if (a.max_map_entries > UINT32_MAX) return Fail(kExitInvalidInput, "--max-map-entries too large");
  if (a.max_map_entries >= 0) options.max_map_entries = static_cast<uint32_t>(a.max_map_entries);
  if (a.decode_deadline_ms > 0) {
    options.decode_deadline = std::chrono::milliseconds(a.decode_deadline_ms);
  }
  for (absl::string_view s : absl::StrSplit(a.sections, ',', absl::SkipEmpty())) {
    options.sections.emplace_back(s);
  }
  std::shared_ptr<dump::KernelAttachment> k = *kernel;
  dump::UseAttachment(k, options);
  std::unique_ptr<dump::QmpControl> control;
  if (!spec.qmp_socket.empty()) {
    absl::StatusOr<std::unique_ptr<dump::QmpControl>> c =
        dump::QmpControl::Connect(spec.qmp_socket, options.control_timeout);
    if (!c.ok()) return Fail(kExitFailure, absl::StrCat("qmp: ", c.status().message()));
    control = std::move(*c);
  }
  // A one-shot process has no warm snapshot memory yet: pay for it before the pause, not in it.
  GuestSnapshot::WarmPool();
  // A one-shot dump opens the counters just before its pause: they count from here on.
  dump::VcpuPerfSource vcpu_perf;
  options.vcpu_perf = &vcpu_perf;
  absl::StatusOr<dump::FreezeOutcome> outcome =
      dump::RunFreeze(control.get(), k->phases(), options);
  if (!outcome.ok()) return Fail(kExitInvalidInput, std::string(outcome.status().message()));
  kfreeze::v1::DumpEnvelope& e = outcome->envelope;
  e.set_target(spec.name);
  e.set_trigger(kfreeze::v1::TRIGGER_CLI);
  e.set_kernel_release(k->kernel_release());
  if (!ParseLabels(a.label, e.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  if (!outcome->resume_status.ok()) {
    std::fprintf(stderr, "kfreeze: resume failed, the VM may still be paused: %s\n",
                 std::string(outcome->resume_status.message()).c_str());
  }
  if (e.has_degraded())
    std::fprintf(stderr, "kfreeze: degraded dump: %s\n", e.degraded().reason().c_str());
  // No sampler ran while the guest did: the timeline can only come from kfreezed.
  kfreeze::v1::FailureDumpReport* taken = nullptr;
  if (e.has_single()) {
    taken = e.mutable_single();
  } else if (e.has_degraded() && e.degraded().has_partial()) {
    taken = e.mutable_degraded()->mutable_partial();
  }
  if (taken != nullptr && taken->event_counter_timeline().empty()) {
    taken->set_event_counter_timeline_unavailable(std::string(kReasonEventSamplingOneShot));
  }

  std::string data;
  if (format == "text") {
    data = report::RenderEnvelopeText(e);
    if (!data.empty() && data.back() != '\n') data.push_back('\n');
  } else if (format == "proto-json" || format == "ktstr-json") {
    absl::StatusOr<std::string> json =
        format == "proto-json" ? report::ToJson(e, report::JsonDialect::kProto3)
                               : report::ToJson(*report::ReportOf(e), report::JsonDialect::kKtstr);
    if (!json.ok()) return Fail(kExitFailure, json.status().message());
    data = std::move(*json);
  } else {
    data = e.SerializeAsString();
  }
  int rc = Write(data, a.out);
  return rc != kExitOk ? rc : (outcome->resume_status.ok() ? kExitOk : kExitFailure);
}

RunFn SetupDump(CLI::App& app, const DaemonFlags& /*daemon*/) {
  auto a = std::make_shared<DumpArgs>();
  AddGuestFlags(app, a->guest);
  AddValueFlag(app, "--deadline-ms", a->deadline_ms, "soft deadline of the walk (0 = default)");
  AddValueFlag(
      app, "--sections", a->sections,
      "sections to run, comma separated: the phases and \"regs\" (vCPU registers) (default: all)");
  AddValueFlag(app, "--max-map-entries", a->max_map_entries,
               "entries rendered per map (0 = no cap; default: 4096)");
  AddValueFlag(app, "--decode-deadline-ms", a->decode_deadline_ms,
               "budget of the decode stage after the resume (0 = 10000)");
  AddValueFlag(app, "--label", a->label, "labels k=v[,k2=v2] stored with the dump");
  AddValueFlag(app, "--format", a->format, "output format: text | proto-json | ktstr-json | binpb");
  AddValueFlag(app, "--out", a->out, "write the output to this file instead of stdout");
  return [a] { return RunDump(*a); };
}

const bool registered = RegisterCommand(
    {"dump", "freeze and dump a VM without the daemon (--ram FILE [--qmp SOCK])", &SetupDump});

}  // namespace
}  // namespace kfreeze::cli
