// What the HTTP side serves of the fleet (docs/design/fleet.md), given by kfreezed when it runs
// with NATS: where browsers reach the cluster's websocket listener, and how to fetch a dump body
// from the fleet's bucket. The HTTP side itself never speaks NATS.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::server::http {

struct FleetAccess {
  std::string websocket_url;  // "" = the cluster has none for browsers
  std::string host;           // this daemon's fleet name
  std::string stream;
  std::string bucket;
  // The envelope of HOST/DUMP_ID from the bucket (NotFound, Unavailable, DataLoss ...).
  std::function<absl::StatusOr<kfreeze::v1::DumpEnvelope>(const std::string& host,
                                                          const std::string& dump_id)>
      fetch;
};

}  // namespace kfreeze::server::http
