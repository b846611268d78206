#include "server/fleet/fleet_link.h"

#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server::fleet {

absl::StatusOr<std::unique_ptr<FleetLink>> FleetLink::Start(const kfreeze::v1::NatsConfig& config,
                                                            const FleetDeps& deps) {
  absl::StatusOr<FleetOptions> options = FleetOptionsFromConfig(config);
  if (!options.ok()) return options.status();
  std::unique_ptr<FleetLink> link(new FleetLink(std::move(*options)));
  link->metrics_ = std::make_unique<FleetMetrics>(*deps.registry);
  absl::StatusOr<std::unique_ptr<kfreeze::fleet::NatsConnection>> conn =
      kfreeze::fleet::NatsConnection::Connect(link->options_.nats);
  if (!conn.ok()) return conn.status();
  link->conn_ = std::move(*conn);
  link->responder_ = std::make_unique<FleetResponder>(link->conn_.get(), deps.api,
                                                      link->options_.host, link->metrics_.get());
  if (absl::Status s = link->responder_->Start(); !s.ok()) return s;
  link->publisher_ = std::make_unique<FleetPublisher>(link->conn_.get(), deps.archive, deps.bus,
                                                      link->options_, link->metrics_.get());
  spdlog::info("nats: host '{}' on {} ({}: stream {}, bucket {}, {} replica(s))",
               link->options_.host, absl::StrJoin(link->options_.nats.servers, ","),
               link->conn_->connected() ? "connected" : "connecting", link->options_.stream.name,
               link->options_.bucket.name, link->options_.stream.replicas);
  return link;
}

FleetLink::~FleetLink() { Stop(); }

void FleetLink::Stop() {
  if (responder_) responder_->Stop();
  if (publisher_) publisher_->Stop();
}

}  // namespace kfreeze::server::fleet
