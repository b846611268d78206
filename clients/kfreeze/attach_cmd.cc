// kfreeze attach NAME --ram PATH [--qmp SOCK]: add a target to kfreezed.
#include <cstdio>
#include <memory>
#include <string>

#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct AttachArgs {
  std::string name;
  GuestFlags guest;
  int pid = 0;
  bool replace = false;
  bool json = false;
};

int RunAttach(const AttachArgs& a, const DaemonFlags& daemon) {
  kfreeze::v1::AttachTargetRequest request;
  kfreeze::v1::TargetConfig& t = *request.mutable_target();
  t.set_name(a.name);
  t.set_ram_path(a.guest.ram);
  t.set_qmp_socket(a.guest.qmp);
  t.set_ram_layout(a.guest.ram_layout);
  t.set_btf_path(a.guest.btf);
  if (a.pid < 0) return Fail(kExitInvalidInput, "--pid < 0");
  t.set_vmm_pid(static_cast<uint32_t>(a.pid));
  if (t.ram_path().empty() && t.vmm_pid() == 0) {
    return Fail(kExitInvalidInput, "attach needs --ram PATH or --pid N");
  }
  request.set_replace(a.replace);
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::Target target;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->AttachTarget(ctx.get(), request, &target);
  if (!status.ok()) return RpcFail(daemon, status);
  if (a.json) {
    if (!PrintMessageJson(target)) return kExitFailure;
  } else if (target.state() == kfreeze::v1::TARGET_STATE_FAILED) {
    return Fail(kExitFailure,
                "target " + target.name() + " added but not attached: " + target.last_error());
  } else {
    std::printf("%s attached: %s\n", target.name().c_str(), target.kernel_release().c_str());
  }
  return kExitOk;
}

RunFn SetupAttach(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<AttachArgs>();
  app.add_option("NAME", a->name, "name of the new target")->required();
  AddGuestFlags(app, a->guest);
  AddValueFlag(app, "--pid", a->pid, "VMM process whose shared RAM mapping is the guest RAM");
  AddBoolFlag(app, "--replace", a->replace, "replace an existing target of the same name");
  AddJsonFlag(app, a->json);
  return [a, &daemon] { return RunAttach(*a, daemon); };
}

const bool registered =
    RegisterCommand({"attach", "add a target to kfreezed (--ram PATH or --pid N)", &SetupAttach});

}  // namespace
}  // namespace kfreeze::cli
