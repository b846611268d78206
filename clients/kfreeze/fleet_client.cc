#include "clients/kfreeze/fleet_client.h"

#include <cstdio>

#include "absl/strings/str_split.h"
#include "clients/kfreeze/cli_options.h"
#include "fleet/object_store.h"

namespace kfreeze::cli {

// A dump bigger than this is not a dump kfreezed writes (its archive bounds them far lower).
constexpr uint64_t kMaxBodyBytes = uint64_t{4} << 30;

void AddFleetFlags(CLI::App& app, FleetFlags& f) {
  AddValueFlag(app, "--nats", f.nats,
               "talk to the fleet through this NATS cluster instead of one kfreezed: "
               "nats://[user:pw@]host:port[,...]");
  AddValueFlag(app, "--nats-creds", f.creds, "NATS credentials file (nsc .creds)");
  AddValueFlag(app, "--nats-ca", f.ca, "CA of the NATS servers' certificates (enables TLS)");
  AddValueFlag(app, "--nats-cert", f.cert, "client certificate for NATS (with --nats-key)");
  AddValueFlag(app, "--nats-key", f.key, "client key for NATS");
  AddValueFlag(app, "--nats-stream", f.stream, "the fleet's dump stream (default KFREEZE_DUMPS)");
  AddValueFlag(app, "--nats-bucket", f.bucket,
               "the fleet's dump body bucket (default kfreeze-dumps)");
}

absl::StatusOr<std::unique_ptr<kfreeze::fleet::NatsConnection>> ConnectFleet(
    const FleetFlags& flags, bool keep_reconnecting) {
  kfreeze::fleet::NatsSettings s;
  for (absl::string_view url : absl::StrSplit(flags.nats, ',', absl::SkipWhitespace())) {
    s.servers.emplace_back(url);
  }
  s.credentials_file = flags.creds;
  s.ca_file = flags.ca;
  s.cert_file = flags.cert;
  s.key_file = flags.key;
  s.client_name = "kfreeze";
  s.reconnect_forever = keep_reconnecting;
  return kfreeze::fleet::NatsConnection::Connect(s);
}

absl::Duration FleetTimeout(const DaemonFlags& daemon) {
  return daemon.rpc_timeout_ms > 0 ? absl::Milliseconds(daemon.rpc_timeout_ms) : absl::Hours(1);
}

int FleetFail(const absl::Status& status) {
  const bool caller = absl::IsInvalidArgument(status) || absl::IsPermissionDenied(status) ||
                      absl::IsNotFound(status);
  return Fail(caller ? kExitInvalidInput : kExitFailure,
              std::string("nats: ") + std::string(absl::StatusCodeToString(status.code())) + ": " +
                  std::string(status.message()));
}

absl::StatusOr<std::string> FetchDumpBody(kfreeze::fleet::NatsConnection* conn,
                                          const FleetFlags& flags, const std::string& object,
                                          absl::Duration timeout) {
  kfreeze::fleet::ObjectStore store(conn, flags.bucket);
  const absl::Time deadline = absl::Now() + timeout;
  for (absl::Duration pause = absl::Milliseconds(50);;
       pause = std::min(pause * 2, absl::Seconds(1))) {
    const absl::Duration left = deadline - absl::Now();
    absl::StatusOr<std::string> body =
        store.Get(object, std::max(left, absl::Milliseconds(1)), kMaxBodyBytes);
    if (body.ok() || !absl::IsNotFound(body.status()) || absl::Now() + pause >= deadline) {
      return body;
    }
    absl::SleepFor(pause);
  }
}

}  // namespace kfreeze::cli
