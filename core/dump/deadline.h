// The dump budget: a soft deadline checked between phases (and by phases between items), plus a
// cancel flag so a daemon shutdown ends a walk as if its deadline had passed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/base/stopwatch.h"

namespace kfreeze::dump {

class Deadline {
 public:
  using Clock = MonotonicClock;

  // No deadline: Expired() only turns true through the cancel flag.
  Deadline();
  Deadline(Clock::time_point start, Clock::duration budget,
           const std::atomic<bool>* cancel = nullptr);
  static Deadline FromNow(Clock::duration budget, const std::atomic<bool>* cancel = nullptr);

  // True once the soft deadline has passed or the walk was cancelled.
  bool Expired() const;
  bool Cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }
  bool IsInfinite() const { return infinite_; }
  Clock::duration Remaining() const;

  Clock::time_point start() const { return start_; }
  Clock::time_point soft() const { return soft_; }
  // Microseconds since start(): the unit of dump_truncated_at_us and of every PhaseTiming.
  uint64_t ElapsedUs() const;

 private:
  Clock::time_point start_;
  Clock::time_point soft_;
  bool infinite_ = false;
  const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace kfreeze::dump
