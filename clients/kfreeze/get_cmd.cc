// kfreeze get ID: one archived dump.
#include <memory>
#include <string>

#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

struct GetArgs {
  std::string dump_id;
  bool json = false;
};

int RunGet(const GetArgs& a, const DaemonFlags& daemon) {
  std::string error;
  auto stub = ConnectDaemon(daemon, &error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::GetDumpRequest request;
  request.set_dump_id(a.dump_id);
  kfreeze::v1::GetDumpResponse response;
  auto ctx = NewContext(daemon);
  grpc::Status status = stub->GetDump(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(daemon, status);
  if (!PrintEnvelope(response.envelope(), a.json)) return kExitFailure;
  return kExitOk;
}

RunFn SetupGet(CLI::App& app, const DaemonFlags& daemon) {
  auto a = std::make_shared<GetArgs>();
  app.add_option("DUMP_ID", a->dump_id, "id of an archived dump")->required();
  AddJsonFlag(app, a->json);
  return [a, &daemon] { return RunGet(*a, daemon); };
}

const bool registered = RegisterCommand({"get", "print an archived dump", &SetupGet});

}  // namespace
}  // namespace kfreeze::cli
