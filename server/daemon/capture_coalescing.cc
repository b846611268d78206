#include "server/daemon/capture_coalescing.h"

#include <memory>

namespace kfreeze::server {

CoalescedCapture CaptureOrJoin(
    FreezeTarget& target,
    absl::FunctionRef<absl::StatusOr<kfreeze::v1::FreezeResponse>()> capture) {
  std::shared_ptr<CaptureInFlight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&target.mu);
    if (target.inflight) {
      flight = target.inflight;
      // Counted under the lock: once the leader clears `inflight`, the count is final.
      flight->joiners.fetch_add(1);
    } else {
      flight = std::make_shared<CaptureInFlight>();
      target.inflight = flight;
      leader = true;
    }
  }
  if (!leader) {
    flight->done.WaitForNotification();
    CoalescedCapture joined{flight->result};
    if (joined.result.ok()) joined.result->set_coalesced(true);
    return joined;
  }
  absl::StatusOr<kfreeze::v1::FreezeResponse> result = capture();
  int joiners;
  {
    absl::MutexLock lock(&target.mu);
    target.inflight = nullptr;
    joiners = flight->joiners.load();
  }
  // A scale dump is tens of MB of messages: copy it only for callers that joined.
  if (joiners > 0) flight->result = result;
  flight->done.Notify();
  return CoalescedCapture{std::move(result), true, joiners};
}

int JoinersInFlight(const FreezeTarget& target) {
  absl::MutexLock lock(&target.mu);
  return target.inflight ? target.inflight->joiners.load() : 0;
}

void WaitForCaptureInFlight(const FreezeTarget& target) {
  std::shared_ptr<CaptureInFlight> flight;
  {
    absl::MutexLock lock(&target.mu);
    flight = target.inflight;
  }
  if (flight) flight->done.WaitForNotification();
}

}  // namespace kfreeze::server
