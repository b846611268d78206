// Per-step wall-clock timings (attach steps, dump phases) in insertion order.
#pragma once

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

}  // namespace kfreeze
