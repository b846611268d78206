// One thread per target that samples the guest's SCX_EV_* counters without freezing it, into the
// target's EventTimeline; every capture of the target then carries the window as
// event_counter_timeline (elapsed_ms counts from the sampler's start).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/dump/event_timeline.h"
#include "server/daemon/freeze_coordinator.h"

namespace kfreeze::server {

class EventSampler {
 public:
  EventSampler(FreezeCoordinator* coordinator, std::string target,
               std::chrono::milliseconds interval, std::shared_ptr<dump::EventTimeline> timeline);
  ~EventSampler();  // Stop()
  void Stop();

 private:
  void Loop();

  FreezeCoordinator* const coordinator_;
  const std::string target_;
  const std::chrono::milliseconds interval_;
  const std::shared_ptr<dump::EventTimeline> timeline_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kfreeze::server
