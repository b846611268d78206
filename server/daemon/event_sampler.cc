#include "server/daemon/event_sampler.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

// How long to wait before asking again for an attachment that failed or has no probes.
constexpr absl::Duration kRetryAttach = absl::Seconds(5);

}  // namespace

EventSampler::EventSampler(FreezeCoordinator* coordinator, std::string target,
                           std::chrono::milliseconds interval,
                           std::shared_ptr<dump::EventTimeline> timeline)
    : coordinator_(coordinator),
      target_(std::move(target)),
      interval_(interval),
      timeline_(std::move(timeline)) {
  thread_ = std::thread([this] { Loop(); });
}

EventSampler::~EventSampler() { Stop(); }

void EventSampler::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void EventSampler::Loop() {
  const auto start = std::chrono::steady_clock::now();
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attachment =
        coordinator_->Attachment(target_);
    if (!attachment.ok() || (*attachment)->probes() == nullptr) {
      timeline_->NoteFailure(attachment.ok()
                                 ? absl::FailedPreconditionError("this kernel cannot be probed")
                                 : attachment.status());
      stop_.WaitForNotificationWithTimeout(kRetryAttach);
      continue;
    }
    std::shared_ptr<dump::KernelAttachment> kernel = *attachment;
    std::string last_error;
    while (!stop_.HasBeenNotified()) {
      const auto now = std::chrono::steady_clock::now();
      absl::StatusOr<kfreeze::v1::EventCounterSample> sample =
          kernel->probes()->SampleEventCounters();
      if (sample.ok()) {
        sample->set_elapsed_ms(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count()));
        timeline_->Add(std::move(*sample));
        last_error.clear();
      } else {
        timeline_->NoteFailure(sample.status());
        // Log a changed failure once (no scheduler loaded is a normal, quiet state).
        if (sample.status().ToString() != last_error) {
          last_error = sample.status().ToString();
          spdlog::debug("events {}: {}", target_, last_error);
        }
      }
      if (stop_.WaitForNotificationWithTimeout(absl::FromChrono(interval_))) break;
      if (coordinator_->CachedAttachment(target_) != kernel) break;  // re-attached (reboot)
    }
  }
}

}  // namespace kfreeze::server
