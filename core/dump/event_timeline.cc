#include "core/dump/event_timeline.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"

namespace kfreeze::dump {

EventTimeline::EventTimeline(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

void EventTimeline::Add(kfreeze::v1::EventCounterSample sample) {
  absl::MutexLock lock(&mu_);
  if (samples_.size() == capacity_) {
    samples_.pop_front();
    ++dropped_;
  }
  samples_.push_back(std::move(sample));
  last_failure_.clear();
}

void EventTimeline::NoteFailure(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  last_failure_ = std::string(status.message());
  if (last_failure_.empty()) last_failure_ = absl::StatusCodeToString(status.code());
}

void EventTimeline::CopyInto(kfreeze::v1::FailureDumpReport& report) const {
  if (report.event_counter_timeline_size() > 0) return;
  absl::MutexLock lock(&mu_);
  if (samples_.empty()) {
    report.set_event_counter_timeline_unavailable(
        last_failure_.empty() ? std::string(kReasonNoEventSampleYet)
                              : absl::StrCat(kReasonEventSamplingFailedPrefix, last_failure_));
    return;
  }
  for (const auto& s : samples_) *report.add_event_counter_timeline() = s;
}

size_t EventTimeline::size() const {
  absl::MutexLock lock(&mu_);
  return samples_.size();
}

uint64_t EventTimeline::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

}  // namespace kfreeze::dump
