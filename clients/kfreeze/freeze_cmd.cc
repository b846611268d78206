// kfreeze freeze TARGET: ask kfreezed for a dump now and print it.
#include <memory>
#include <string>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct FreezeArgs {
  std::string target;
  int deadline_ms = 0;
  std::string label;
  std::string sections;
  bool keep_paused = false;
  bool json = false;
  int64_t max_map_entries = -1;  // -1: the daemon's default
  int decode_deadline_ms = 0;
};

int RunFreeze(const FreezeArgs& a, const DaemonFlags& daemon) {
  kfreeze::v1::FreezeRequest request;
  request.set_target(a.target);
  if (a.deadline_ms < 0) return Fail(kExitInvalidInput, "--deadline-ms < 0");
  request.set_deadline_ms(static_cast<uint32_t>(a.deadline_ms));
  if (!ParseLabels(a.label, request.mutable_labels())) {
    return Fail(kExitInvalidInput, "--label wants k=v[,k2=v2]");
  }
  for (absl::string_view s : absl::StrSplit(a.sections, ',', absl::SkipEmpty())) {
    request.add_sections(std::string(s));
  }
  request.set_keep_paused(a.keep_paused);
  if (a.max_map_entries > UINT32_MAX) return Fail(kExitInvalidInput, "--max-map-entries too large");
  if (a.max_map_entries >= 0) request.set_max_map_entries(static_cast<uint32_t>(a.max_map_entries));
  if (a.decode_deadline_ms < 0) return Fail(kExitInvalidInput, "--decode-deadline-ms < 0");
  request.set_decode_deadline_ms(static_cast<uint32_t>(a.decode_deadline_ms));
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::FreezeResponse response;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->Freeze(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(daemon, status);
  if (a.json) {
    if (!PrintMessageJson(response)) return kExitFailure;
  } else {
    PrintEnvelope(response.envelope(), /*json=*/false);
  }
  return kExitOk;
}

RunFn SetupFreeze(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<FreezeArgs>();
  app.add_option("TARGET", a->target, "target name in kfreezed")->required();
  AddValueFlag(app, "--deadline-ms", a->deadline_ms,
               "soft deadline of the walk (0 = the daemon's)");
  AddValueFlag(app, "--label", a->label, "caller labels k=v[,k2=v2] stored with the dump");
  AddValueFlag(app, "--sections", a->sections, "sections to run, comma separated: the phases and \"regs\" (vCPU registers) (default: all)");
  AddBoolFlag(app, "--keep-paused", a->keep_paused,
              "leave the VM paused after the dump (resume with `kfreeze resume`)");
  AddValueFlag(app, "--max-map-entries", a->max_map_entries,
               "entries rendered per map (0 = no cap; default: 4096)");
  AddValueFlag(app, "--decode-deadline-ms", a->decode_deadline_ms,
               "budget of the decode stage after the resume (0 = the daemon's)");
  AddJsonFlag(app, a->json);
  return [a, &daemon] { return RunFreeze(*a, daemon); };
}

const bool registered =
    RegisterCommand({"freeze", "pause, dump and resume a VM through kfreezed", &SetupFreeze});

}  // namespace
}  // namespace kfreeze::cli
