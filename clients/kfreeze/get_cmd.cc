// kfreeze get ID: one archived dump.
#include <string>
#include <vector>

#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"

namespace kfreeze::cli {
namespace {

int RunGet(const std::vector<std::string>& args) {
  if (args.size() != 1) return Fail(kExitInvalidInput, "usage: kfreeze get DUMP_ID");
  std::string error;
  auto stub = ConnectDaemon(&error);
  if (!stub) return Fail(kExitInvalidInput, error);
  kfreeze::v1::GetDumpRequest request;
  request.set_dump_id(args[0]);
  kfreeze::v1::GetDumpResponse response;
  auto ctx = NewContext();
  grpc::Status status = stub->GetDump(ctx.get(), request, &response);
  if (!status.ok()) return RpcFail(status);
  PrintEnvelope(response.envelope());
  return kExitOk;
}

const bool registered =
    RegisterCommand({"get", "get DUMP_ID [--json]: print an archived dump", &RunGet});

}  // namespace
}  // namespace kfreeze::cli
