// A token bucket over a caller-supplied clock: `burst` tokens at most, one more every
// `refill_every`. Not thread-safe (one per trigger runner thread).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace kfreeze::server {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(uint32_t burst, Clock::duration refill_every, Clock::time_point now)
      : burst_(std::max<uint32_t>(burst, 1)),
        refill_every_(refill_every),
        tokens_(burst_),
        last_(now) {}

  // Takes one token if there is one.
  bool TryTake(Clock::time_point now) {
    if (refill_every_.count() > 0 && now > last_) {
      int64_t earned = (now - last_) / refill_every_;
      if (earned > 0) {
        tokens_ = static_cast<uint32_t>(std::min<int64_t>(burst_, tokens_ + earned));
        last_ += earned * refill_every_;
        if (tokens_ == burst_) last_ = now;  // a full bucket does not bank time
      }
    }
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

 private:
  const uint32_t burst_;
  const Clock::duration refill_every_;
  uint32_t tokens_;
  Clock::time_point last_;
};

}  // namespace kfreeze::server
