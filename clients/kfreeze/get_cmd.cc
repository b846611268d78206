// kfreeze get ID: one archived dump; with --nats, HOST/ID from the fleet's bucket.
#include <memory>
#include <string>

#include "clients/kfreeze/cli_options.h"
#include "clients/kfreeze/command.h"
#include "clients/kfreeze/daemon_client.h"
#include "clients/kfreeze/fleet_client.h"
#include "fleet/subjects.h"

namespace kfreeze::cli {
namespace {

struct GetArgs {
  std::string dump_id;
  bool json = false;
  FleetFlags fleet;
};

int RunFleetGet(const GetArgs& a, const DaemonFlags& daemon) {
  if (!kfreeze::fleet::SplitHostSlashName(a.dump_id)) {
    return Fail(kExitInvalidInput,
                "with --nats the dump is HOST/DUMP_ID (as `watch --nats` prints)");
  }
  auto conn = ConnectFleet(a.fleet);
  if (!conn.ok()) return FleetFail(conn.status());
  absl::StatusOr<std::string> body =
      FetchDumpBody(conn->get(), a.fleet, a.dump_id, FleetTimeout(daemon));
  if (!body.ok()) return FleetFail(body.status());
  kfreeze::v1::DumpEnvelope envelope;
  if (!envelope.ParseFromString(*body)) {
    return Fail(kExitFailure, "nats: " + a.dump_id + " is not a DumpEnvelope");
  }
  return PrintEnvelope(envelope, a.json) ? kExitOk : kExitFailure;
}

int RunGet(const GetArgs& a, const DaemonFlags& daemon) {
  if (a.fleet.enabled()) return RunFleetGet(a, daemon);
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
  app.add_option("DUMP_ID", a->dump_id, "id of an archived dump (HOST/ID with --nats)")->required();
  AddJsonFlag(app, a->json);
  AddFleetFlags(app, a->fleet);
  return [a, &daemon] { return RunGet(*a, daemon); };
}

const bool registered = RegisterCommand({"get", "print an archived dump", &SetupGet});

}  // namespace
}  // namespace kfreeze::cli
