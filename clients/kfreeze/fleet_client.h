// What the fleet forms of watch, get, freeze and targets share (`--nats`; docs/design/fleet.md):
// the connection flags, the stream and bucket names, fetching a dump body from the bucket.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "clients/kfreeze/command.h"
#include "fleet/nats_connection.h"

namespace CLI {
class App;
}  // namespace CLI

namespace kfreeze::cli {

struct FleetFlags {
  std::string nats;  // nats://[user:pw@]host:port[,...]; empty = talk to one kfreezed (--server)
  std::string creds;
  std::string ca;
  std::string cert;
  std::string key;
  std::string stream = "KFREEZE_DUMPS";
  std::string bucket = "kfreeze-dumps";

  bool enabled() const { return !nats.empty(); }
};

void AddFleetFlags(CLI::App& app, FleetFlags& flags);

// How long a fleet call may take: --rpc-timeout-ms, where 0 ("none") is an hour (NATS calls
// need a bound).
absl::Duration FleetTimeout(const DaemonFlags& daemon);

// One clear line on failure.
// `keep_reconnecting`: once connected, never give the cluster up (a watch); the first connect
// still fails at once.
absl::StatusOr<std::unique_ptr<kfreeze::fleet::NatsConnection>> ConnectFleet(
    const FleetFlags& flags, bool keep_reconnecting = false);

// "kfreeze: nats: <status>" on stderr; kExitInvalidInput for a caller's mistake, else failure.
int FleetFail(const absl::Status& status);

// The body of HOST/DUMP_ID from the bucket. A dump announced a moment ago may still be on its way
// (the host publishes the body first, but a freeze reply can come before it): NotFound is retried
// until `timeout`.
absl::StatusOr<std::string> FetchDumpBody(kfreeze::fleet::NatsConnection* conn,
                                          const FleetFlags& flags, const std::string& object,
                                          absl::Duration timeout);

}  // namespace kfreeze::cli
