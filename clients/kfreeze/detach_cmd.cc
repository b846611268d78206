// kfreeze detach NAME / kfreeze resume NAME: drop a target; resume one left paused.
#include <cstdio>
#include <string>
#include <vector>

#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

int RunDetach(const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail(kExitInvalidInput, "usage: kfreeze detach NAME");
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::DetachTargetRequest request;
  request.set_name(args[0]);
  kfreeze::v1::DetachTargetResponse response;
  auto ctx = NewContext();
  grpc::Status status = stub->DetachTarget(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(status);
  std::printf("%s detached\n", args[0].c_str());
  return kExitOk;
}

int RunResume(const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail(kExitInvalidInput, "usage: kfreeze resume NAME");
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ResumeTargetRequest request;
  request.set_name(args[0]);
  kfreeze::v1::Target target;
  auto ctx = NewContext();
  grpc::Status status = stub->ResumeTarget(ctx.get(), request, &target);
  if (!status.ok()) return RpcFail(status);
  std::printf("%s resumed\n", args[0].c_str());
  return kExitOk;
}

const bool registered_detach = RegisterCommand(
    {"detach", "detach NAME: remove a target from kfreezed (resuming it if kept paused)",
     &RunDetach});
const bool registered_resume = RegisterCommand(
    {"resume", "resume NAME: resume a VM left paused by `freeze --keep-paused`", &RunResume});

}  // namespace
}  // namespace kfreeze::cli
