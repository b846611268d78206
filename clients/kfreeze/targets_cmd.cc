// kfreeze targets: what kfreezed is attached to, and why not when it is not.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

std::string StateName(kfreeze::v1::TargetState s) {
  std::string name = kfreeze::v1::TargetState_Name(s);
  const std::string prefix = "TARGET_STATE_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

int RunTargets(const std::vector<std::string>& args) {
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ListTargetsResponse response;
  if (args.size() == 1) {  // one target in detail
    kfreeze::v1::GetTargetRequest request;
    request.set_name(args[0]);
    auto ctx = NewContext();
    grpc::Status status = stub->GetTarget(ctx.get(), request, response.add_targets());
    if (!status.ok()) return RpcFail(status);
  } else if (args.empty()) {
    auto ctx = NewContext();
    grpc::Status status =
        stub->ListTargets(ctx.get(), kfreeze::v1::ListTargetsRequest(), &response);
    if (!status.ok()) return RpcFail(status);
  } else {
    return Fail(kExitInvalidInput, "usage: kfreeze targets [NAME]");
  }
  if (absl::GetFlag(FLAGS_json)) {
    PrintMessageJson(response);
    return kExitOk;
  }
  for (const auto& t : response.targets()) {
    std::printf("%s\n", absl::StrFormat("%-12s %-9s %-28s dumps=%d last=%s%s%s", t.name(),
                                        StateName(t.state()), t.kernel_release(), t.dumps_taken(),
                                        t.last_dump_id().empty() ? "-" : t.last_dump_id(),
                                        t.config().qmp_socket().empty() ? " (live: no qmp)" : "",
                                        t.last_error().empty() ? "" : "  error: " + t.last_error())
                            .c_str());
  }
  return kExitOk;
}

const bool registered = RegisterCommand(
    {"targets", "targets [NAME] [--json]: targets of kfreezed, their state and last error",
     &RunTargets});

}  // namespace
}  // namespace kfreeze::cli
