// The SCX_EV_* counters sampled while the guest runs, for a report's event_counter_timeline.
// The daemon appends a sample every few hundred ms without freezing; a capture copies the window.
#pragma once

#include <cstddef>
#include <deque>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

class EventTimeline {
 public:
  // Keeps the newest `capacity` samples (older ones are dropped and counted).
  explicit EventTimeline(size_t capacity);

  void Add(kfreeze::v1::EventCounterSample sample);
  // A failed sampling attempt; its message explains an empty timeline.
  void NoteFailure(const absl::Status& status);

  // Fills report.event_counter_timeline with the window, or event_counter_timeline_unavailable
  // with why it is empty. Leaves a report that already has a timeline alone.
  void CopyInto(kfreeze::v1::FailureDumpReport& report) const;

  size_t size() const;
  uint64_t dropped() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<kfreeze::v1::EventCounterSample> samples_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_failure_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze::dump
