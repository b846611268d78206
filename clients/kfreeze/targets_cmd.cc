// kfreeze targets: what kfreezed is attached to, and why not when it is not.
#include <cctype>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_format.h"
#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct TargetsArgs {
  std::string name;  // empty: every target
  bool json = false;
};

std::string StateName(kfreeze::v1::TargetState s) {
  std::string name = kfreeze::v1::TargetState_Name(s);
  const std::string prefix = "TARGET_STATE_";
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

int RunTargets(const TargetsArgs& a, const DaemonFlags& daemon) {
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::ListTargetsResponse response;
  if (!a.name.empty()) {  // one target in detail
    kfreeze::v1::GetTargetRequest request;
    request.set_name(a.name);
    auto ctx = NewContext(daemon);
    grpc::Status status = stub->GetTarget(ctx.get(), request, response.add_targets());
    if (!status.ok()) return RpcFail(daemon, status);
  } else {
    auto ctx = NewContext(daemon);
    grpc::Status status =
        stub->ListTargets(ctx.get(), kfreeze::v1::ListTargetsRequest(), &response);
    if (!status.ok()) return RpcFail(daemon, status);
  }
  if (a.json) {
    return PrintMessageJson(response) ? kExitOk : kExitFailure;
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

RunFn SetupTargets(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<TargetsArgs>();
  app.add_option("NAME", a->name, "show only this target");
  AddJsonFlag(app, a->json);
  return [a, &daemon] { return RunTargets(*a, daemon); };
}

const bool registered =
    RegisterCommand({"targets", "targets of kfreezed, their state and last error", &SetupTargets});

}  // namespace
}  // namespace kfreeze::cli
