// kfreeze attach NAME --ram PATH [--qmp SOCK]: add a target to kfreezed.
#include <string>
#include <vector>

#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

ABSL_DECLARE_FLAG(std::string, ram);         // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, qmp);         // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, ram_layout);  // inspect_cmd.cc
ABSL_DECLARE_FLAG(std::string, btf);         // inspect_cmd.cc
ABSL_FLAG(int, pid, 0, "VMM process whose shared RAM mapping is the guest RAM");
KF_NAMED_FLAG(bool, replace, "replace", false, "replace an existing target of the same name");

namespace kfreeze::cli {
namespace {

int RunAttach(const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Fail(kExitInvalidInput, "usage: kfreeze attach NAME --ram PATH [--qmp SOCK]");
  }
  kfreeze::v1::AttachTargetRequest request;
  kfreeze::v1::TargetConfig& t = *request.mutable_target();
  t.set_name(args[0]);
  t.set_ram_path(absl::GetFlag(FLAGS_ram));
  t.set_qmp_socket(absl::GetFlag(FLAGS_qmp));
  t.set_ram_layout(absl::GetFlag(FLAGS_ram_layout));
  t.set_btf_path(absl::GetFlag(FLAGS_btf));
  if (absl::GetFlag(FLAGS_pid) < 0) return Fail(kExitInvalidInput, "--pid < 0");
  t.set_vmm_pid(static_cast<uint32_t>(absl::GetFlag(FLAGS_pid)));
  if (t.ram_path().empty() && t.vmm_pid() == 0) {
    return Fail(kExitInvalidInput, "attach needs --ram PATH or --pid N");
  }
  request.set_replace(absl::GetFlag(FLAGS_replace));
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::Target target;
  auto ctx = NewContext();
  grpc::Status status = stub->AttachTarget(ctx.get(), request, &target);
  if (!status.ok()) return RpcFail(status);
  if (absl::GetFlag(FLAGS_json)) {
    PrintMessageJson(target);
  } else if (target.state() == kfreeze::v1::TARGET_STATE_FAILED) {
    return Fail(kExitFailure,
                "target " + target.name() + " added but not attached: " + target.last_error());
  } else {
    std::printf("%s attached: %s\n", target.name().c_str(), target.kernel_release().c_str());
  }
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"attach",
     "attach NAME --ram PATH|--pid N [--qmp SOCK] [--ram-layout L] [--btf F] [--replace]: "
     "add a target to kfreezed",
     &RunAttach});

}  // namespace
}  // namespace kfreeze::cli
