// kfreeze detach NAME / kfreeze resume NAME: drop a target; resume one left paused.
#include <cstdio>
#include <memory>
#include <string>

#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

int RunDetach(const std::string& name, const DaemonFlags& daemon) {
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::DetachTargetRequest request;
  request.set_name(name);
  kfreeze::v1::DetachTargetResponse response;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->DetachTarget(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(daemon, status);
  std::printf("%s detached\n", name.c_str());
  return kExitOk;
}

int RunResume(const std::string& name, const DaemonFlags& daemon) {
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ResumeTargetRequest request;
  request.set_name(name);
  kfreeze::v1::Target target;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->ResumeTarget(ctx.get(), request, &target);
  if (!status.ok()) return RpcFail(daemon, status);
  std::printf("%s resumed\n", name.c_str());
  return kExitOk;
}

RunFn SetupDetach(CLI::App& app, const DaemonFlags& daemon) {
  auto name = std::make_shared<std::string>();
  app.add_option("NAME", *name, "target name")->required();
  return [name, &daemon] { return RunDetach(*name, daemon); };
}

RunFn SetupResume(CLI::App& app, const DaemonFlags& daemon) {
  auto name = std::make_shared<std::string>();
  app.add_option("NAME", *name, "target name")->required();
  return [name, &daemon] { return RunResume(*name, daemon); };
}

const bool registered_detach = RegisterCommand(
    {"detach", "remove a target from kfreezed (resuming it if kept paused)", &SetupDetach});
const bool registered_resume =
    RegisterCommand({"resume", "resume a VM left paused by `freeze --keep-paused`", &SetupResume});

}  // namespace
}  // namespace kfreeze::cli
