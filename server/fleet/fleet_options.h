// kfreezed's NATS settings (kfreeze.v1.NatsConfig) with their defaults applied and checked: the
// connection, this daemon's fleet name, and the retention of the dump stream and the bucket.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/dump_feed.h"
#include "fleet/nats_connection.h"
#include "fleet/object_store.h"
#include "kfreeze/v1/config.pb.h"

namespace kfreeze::server::fleet {

struct FleetOptions {
  kfreeze::fleet::NatsSettings nats;
  std::string host;
  kfreeze::fleet::StreamConfig stream;
  kfreeze::fleet::BucketConfig bucket;
  // Each JetStream publish (a chunk, a meta, an event) waits this long for its ack.
  absl::Duration publish_timeout = absl::Seconds(10);
  // Retries of a failed publish back off from the first to the second.
  absl::Duration retry_min = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(30);
};

inline constexpr char kDefaultStream[] = "KFREEZE_DUMPS";
inline constexpr char kDefaultBucket[] = "kfreeze-dumps";
inline constexpr absl::Duration kDefaultMaxAge = absl::Hours(24 * 7);

// InvalidArgument for a config NATS cannot take (replicas outside 1..5, a stream or bucket name
// with characters JetStream refuses, a host name that is empty once defaulted). `config.servers`
// must not be empty (no servers = no fleet: the caller checks).
absl::StatusOr<FleetOptions> FleetOptionsFromConfig(const kfreeze::v1::NatsConfig& config);

}  // namespace kfreeze::server::fleet
