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
    } else {
      flight = std::make_shared<CaptureInFlight>();
      target.inflight = flight;
      leader = true;
    }
  }
  if (!leader) {
    flight->joiners.fetch_add(1);
    flight->done.WaitForNotification();
    CoalescedCapture joined{flight->result};
    if (joined.result.ok()) joined.result->set_coalesced(true);
    return joined;
  }
  flight->result = capture();
  {
    absl::MutexLock lock(&target.mu);
    target.inflight = nullptr;
  }
  flight->done.Notify();
  return CoalescedCapture{flight->result, true, flight->joiners.load()};
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
