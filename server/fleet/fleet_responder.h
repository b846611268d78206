// Answers the fleet's requests for this daemon's VMs (docs/design/fleet.md §2): Freeze on
// kfreeze.freeze.<host>.<target>, target listing on kfreeze.targets.<host> and kfreeze.targets.
// Each request runs FreezeApi as a peer of transport `nats`, so validation, limits, roles and
// coalescing are the gRPC Freeze's; it runs on a worker thread of its own (at most
// kMaxInFlight at once, beyond that the reply is RESOURCE_EXHAUSTED), so a long freeze of one VM
// never holds up another's.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "fleet/nats_connection.h"
#include "server/daemon/freeze_api.h"
#include "server/fleet/fleet_metrics.h"

namespace kfreeze::server::fleet {

class FleetResponder {
 public:
  static constexpr int kMaxInFlight = 16;
  // Replies leave this much of the server's max_payload for headers and framing.
  static constexpr int64_t kReplyHeadroom = 16 * 1024;

  FleetResponder(kfreeze::fleet::NatsConnection* conn, FreezeApi* api, std::string host,
                 FleetMetrics* metrics)
      : conn_(conn), api_(api), host_(std::move(host)), metrics_(metrics) {}
  ~FleetResponder();  // Stop()

  absl::Status Start();
  // Unsubscribes: no new request starts. Does not wait.
  void StopAccepting();
  // StopAccepting, then waits for the requests in flight (after the daemon's Shutdown, which
  // ends their walks and resumes their VMs, this is quick).
  void Stop();

 private:
  static void OnMessage(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* self);
  void Handle(kfreeze::fleet::MsgPtr msg);
  void HandleFreeze(natsMsg* msg);
  void HandleTargets(natsMsg* msg);
  // Sends `body` (or, for a failed status, the error headers) to msg's reply subject.
  void Reply(natsMsg* msg, const std::string& body, const absl::Status& status,
             const std::vector<std::pair<std::string, std::string>>& headers = {});

  kfreeze::fleet::NatsConnection* const conn_;
  FreezeApi* const api_;
  const std::string host_;
  FleetMetrics* const metrics_;
  std::vector<natsSubscription*> subs_;
  // Shared with the workers: the last thing a worker does is leave, so the responder may be
  // gone by the time its lock is released.
  struct InFlight {
    absl::Mutex mu;
    int count ABSL_GUARDED_BY(mu) = 0;
    bool stopping ABSL_GUARDED_BY(mu) = false;
  };
  const std::shared_ptr<InFlight> in_flight_ = std::make_shared<InFlight>();
};

}  // namespace kfreeze::server::fleet
