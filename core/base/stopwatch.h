// Elapsed time: per-step wall-clock timings (attach steps, dump phases) in insertion order, and
// monotonic elapsed micro/milliseconds for report fields and log lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kfreeze {

struct StepTiming {
  std::string step;
  absl::Duration elapsed;
};

// Records the time between successive Lap() calls under the given step names.
class StepTimer {
 public:
  StepTimer() : last_(absl::Now()) {}
  void Lap(std::string step) {
    absl::Time now = absl::Now();
    steps_.push_back({std::move(step), now - last_});
    last_ = now;
  }
  const std::vector<StepTiming>& steps() const { return steps_; }
  absl::Duration Total() const {
    absl::Duration total;
    for (const StepTiming& s : steps_) total += s.elapsed;
    return total;
  }

 private:
  absl::Time last_;
  std::vector<StepTiming> steps_;
};

using MonotonicClock = std::chrono::steady_clock;

// Whole microseconds from `from` to `to`; 0 when `to` is not after `from` (never wraps).
inline uint64_t MicrosBetween(MonotonicClock::time_point from, MonotonicClock::time_point to) {
  if (to <= from) return 0;
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(to - from).count());
}

// Whole milliseconds from `from` to `to`; 0 when `to` is not after `from`.
inline uint64_t MillisBetween(MonotonicClock::time_point from, MonotonicClock::time_point to) {
  if (to <= from) return 0;
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count());
}

// Time since construction on the monotonic clock.
class ElapsedTimer {
 public:
  ElapsedTimer() : begin_(MonotonicClock::now()) {}
  uint64_t Micros() const { return MicrosBetween(begin_, MonotonicClock::now()); }
  uint64_t Millis() const { return MillisBetween(begin_, MonotonicClock::now()); }

 private:
  MonotonicClock::time_point begin_;
};

}  // namespace kfreeze
