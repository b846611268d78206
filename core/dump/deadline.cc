#include "core/dump/deadline.h"

namespace kfreeze::dump {

Deadline::Deadline() : start_(Clock::now()), soft_(Clock::time_point::max()), infinite_(true) {}

Deadline::Deadline(Clock::time_point start, Clock::duration budget, const std::atomic<bool>* cancel)
    : start_(start), soft_(start + budget), cancel_(cancel) {}

Deadline Deadline::FromNow(Clock::duration budget, const std::atomic<bool>* cancel) {
  return Deadline(Clock::now(), budget, cancel);
}

bool Deadline::Expired() const {
  if (Cancelled()) return true;
  return !infinite_ && Clock::now() >= soft_;
}

Deadline::Clock::duration Deadline::Remaining() const {
  if (Cancelled()) return Clock::duration::zero();
  if (infinite_) return Clock::duration::max();
  Clock::time_point now = Clock::now();
  return now >= soft_ ? Clock::duration::zero() : soft_ - now;
}

uint64_t Deadline::ElapsedUs() const { return MicrosBetween(start_, Clock::now()); }

}  // namespace kfreeze::dump
