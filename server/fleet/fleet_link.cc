#include "server/fleet/fleet_link.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fleet/object_store.h"
#include "fleet/subjects.h"
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
  std::vector<std::string> shown;  // without user:password@
  for (const std::string& url : link->options_.nats.servers) {
    const size_t at = url.find('@'), scheme = url.find("://");
    shown.push_back(at == std::string::npos || scheme == std::string::npos || at < scheme
                        ? url
                        : url.substr(0, scheme + 3) + url.substr(at + 1));
  }
  spdlog::info("nats: host '{}' on {} ({}: stream {}, bucket {}, {} replica(s))",
               link->options_.host, absl::StrJoin(shown, ","),
               link->conn_->connected() ? "connected" : "connecting", link->options_.stream.name,
               link->options_.bucket.name, link->options_.stream.replicas);
  return link;
}

FleetLink::~FleetLink() { Stop(); }

absl::StatusOr<kfreeze::v1::DumpEnvelope> FleetLink::FetchDump(const std::string& host,
                                                               const std::string& dump_id) {
  // No dump kfreezed writes comes near this; a bigger object is not one of ours.
  constexpr uint64_t kMaxDumpBytes = uint64_t{1} << 30;
  constexpr absl::Duration kFetchTimeout = absl::Seconds(30);
  kfreeze::fleet::ObjectStore store(conn_.get(), options_.bucket.name);
  absl::StatusOr<std::string> body =
      store.Get(kfreeze::fleet::DumpObjectName(host, dump_id), kFetchTimeout, kMaxDumpBytes);
  if (!body.ok()) return body.status();
  kfreeze::v1::DumpEnvelope envelope;
  if (!envelope.ParseFromString(*body)) {
    return absl::DataLossError(absl::StrCat(host, "/", dump_id, " is not a DumpEnvelope"));
  }
  return envelope;
}

void FleetLink::StopAccepting() {
  if (responder_) responder_->StopAccepting();
}

void FleetLink::Stop() {
  if (responder_) responder_->Stop();
  if (publisher_) publisher_->Stop();
}

}  // namespace kfreeze::server::fleet
