// Publishes every archived dump to the fleet (docs/design/fleet.md §3): the body to the object
// store bucket, then the event to the dump stream, in archive order, each acknowledged before the
// next. The archive is the outbox and <archive dir>/nats-cursor the last seq the cluster
// acknowledged, so dumps taken while NATS is unreachable (or kfreezed is down) are published when
// it is back, in order, once (a retried event keeps its Nats-Msg-Id; a body already stored is
// not stored again).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "fleet/nats_connection.h"
#include "server/daemon/archive.h"
#include "server/daemon/dump_bus.h"
#include "server/fleet/fleet_metrics.h"
#include "server/fleet/fleet_options.h"

namespace kfreeze::server::fleet {

class FleetPublisher {
 public:
  // Reads the cursor (or starts it at the archive's newest dump) and starts the thread.
  FleetPublisher(kfreeze::fleet::NatsConnection* conn, DumpArchive* archive, DumpBus* bus,
                 const FleetOptions& options, FleetMetrics* metrics);
  ~FleetPublisher();  // Stop()
  void Stop();

  // The archive seq of the last dump the cluster acknowledged.
  uint64_t cursor() const;

 private:
  void Loop();
  // Both halves of one dump. OK also when retention removed it first (counted, skipped).
  absl::Status PublishOne(const kfreeze::v1::DumpSummary& summary);
  absl::Status EnsureStreams();
  void SaveCursor(uint64_t seq);
  std::string CursorPath() const;

  kfreeze::fleet::NatsConnection* const conn_;
  DumpArchive* const archive_;
  const FleetOptions options_;
  FleetMetrics* const metrics_;
  std::unique_ptr<Subscription> wakeups_;  // any archived dump wakes the loop
  mutable absl::Mutex mu_;
  uint64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kfreeze::server::fleet
