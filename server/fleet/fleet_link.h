// kfreezed on the fleet: one NATS connection (reconnecting forever), the publisher of archived
// dumps and the responder to freeze and target requests. main() starts it when the config has
// NATS servers; Stop() (before the daemon's Shutdown) ends both and closes the connection.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "kfreeze/v1/config.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/dump_bus.h"
#include "server/daemon/freeze_api.h"
#include "server/fleet/fleet_metrics.h"
#include "server/fleet/fleet_options.h"
#include "server/fleet/fleet_publisher.h"
#include "server/fleet/fleet_responder.h"

namespace kfreeze::server::fleet {

struct FleetDeps {
  FreezeApi* api;
  DumpArchive* archive;
  DumpBus* bus;
  prometheus::Registry* registry;
};

class FleetLink {
 public:
  // Fails on a config NATS cannot take or a connection it cannot even start (bad credentials
  // file); an unreachable cluster is not a failure: the link connects when it can.
  static absl::StatusOr<std::unique_ptr<FleetLink>> Start(const kfreeze::v1::NatsConfig& config,
                                                          const FleetDeps& deps);
  ~FleetLink();
  // Takes no more requests (before the daemon's Shutdown, so that none starts a freeze then).
  void StopAccepting();
  // Waits for the requests in flight and stops publishing (after the daemon's Shutdown, which
  // ends walks in flight and resumes their VMs).
  void Stop();

  const FleetOptions& options() const { return options_; }
  // HOST/DUMP_ID's envelope from the bucket (any host's: the HTTP side's fleet pages).
  absl::StatusOr<kfreeze::v1::DumpEnvelope> FetchDump(const std::string& host,
                                                      const std::string& dump_id);
  FleetPublisher& publisher() { return *publisher_; }
  kfreeze::fleet::NatsConnection& connection() { return *conn_; }

 private:
  explicit FleetLink(FleetOptions options) : options_(std::move(options)) {}

  const FleetOptions options_;
  std::unique_ptr<FleetMetrics> metrics_;
  std::unique_ptr<kfreeze::fleet::NatsConnection> conn_;
  std::unique_ptr<FleetResponder> responder_;
  std::unique_ptr<FleetPublisher> publisher_;
};

}  // namespace kfreeze::server::fleet
