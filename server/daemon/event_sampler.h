// One thread per target that samples the guest's SCX_EV_* counters without freezing it, into the
// target's EventTimeline; every capture of the target then carries the window as
// event_counter_timeline (elapsed_ms counts from the sampler's start).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/dump/event_timeline.h"
#include "server/daemon/probe_loop.h"

namespace kfreeze::server {

class EventSampler {
 public:
  EventSampler(TargetAttachments attachments, std::string target,
               std::chrono::milliseconds interval, std::shared_ptr<dump::EventTimeline> timeline);
  void Stop() { loop_.Stop(); }

 private:
  ProbeLoop::Round Arm(const std::shared_ptr<dump::KernelAttachment>& kernel);

  const std::string target_;
  const std::chrono::milliseconds interval_;
  const std::shared_ptr<dump::EventTimeline> timeline_;
  const std::chrono::steady_clock::time_point start_;
  ProbeLoop loop_;  // last: its thread uses the members above
};

}  // namespace kfreeze::server
