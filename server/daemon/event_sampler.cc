#include "server/daemon/event_sampler.h"

#include <utility>

#include "core/base/stopwatch.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {

EventSampler::EventSampler(TargetAttachments attachments, std::string target,
                           std::chrono::milliseconds interval,
                           std::shared_ptr<dump::EventTimeline> timeline)
    : target_(std::move(target)),
      interval_(interval),
      timeline_(std::move(timeline)),
      start_(std::chrono::steady_clock::now()),
      loop_(
          std::move(attachments),
          [this](const std::shared_ptr<dump::KernelAttachment>& kernel) { return Arm(kernel); },
          [this](const absl::Status& why) { timeline_->NoteFailure(why); }) {}

ProbeLoop::Round EventSampler::Arm(const std::shared_ptr<dump::KernelAttachment>& kernel) {
  auto last_error = std::make_shared<std::string>();
  return [this, kernel, last_error] {
    const auto now = std::chrono::steady_clock::now();
    absl::StatusOr<kfreeze::v1::EventCounterSample> sample =
        kernel->probes()->SampleEventCounters();
    if (sample.ok()) {
      sample->set_elapsed_ms(MillisBetween(start_, now));
      timeline_->Add(std::move(*sample));
      last_error->clear();
    } else {
      timeline_->NoteFailure(sample.status());
      // Log a changed failure once (no scheduler loaded is a normal, quiet state).
      if (sample.status().ToString() != *last_error) {
        *last_error = sample.status().ToString();
        spdlog::debug("events {}: {}", target_, *last_error);
      }
    }
    return interval_;
  };
}

}  // namespace kfreeze::server
