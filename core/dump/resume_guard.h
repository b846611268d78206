// RAII resume: once a VM was asked to stop, it is resumed on every path out of the freeze
// (walker error, deadline overrun, exception, shutdown) unless the caller explicitly keeps it
// paused.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "absl/status/status.h"
#include "core/dump/deadline.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::dump {

class ResumeGuard {
 public:
  ResumeGuard(VmmControl* control, std::chrono::milliseconds timeout)
      : control_(control), timeout_(timeout) {}
  ResumeGuard(const ResumeGuard&) = delete;
  ResumeGuard& operator=(const ResumeGuard&) = delete;
  ~ResumeGuard() {
    if (!released_) (void)Resume();
  }

  // Sends `cont` once; later calls (from any thread) return the first call's status.
  absl::Status Resume() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!resumed_) {
      resumed_ = true;
      Deadline::Clock::time_point begin = Deadline::Clock::now();
      status_ = control_->Cont(timeout_);
      resumed_at_ = Deadline::Clock::now();
      cont_us_ = MicrosBetween(begin, resumed_at_);
    }
    return status_;
  }

  // Leave the VM paused (keep_paused); the caller now owns resuming it.
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
  }

  bool resumed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return resumed_;
  }
  Deadline::Clock::time_point resumed_at() const {
    std::lock_guard<std::mutex> lock(mu_);
    return resumed_at_;
  }
  // How long the `cont` round trip took.
  uint64_t cont_us() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cont_us_;
  }

 private:
  VmmControl* control_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  bool resumed_ = false;
  bool released_ = false;
  absl::Status status_;
  Deadline::Clock::time_point resumed_at_;
  uint64_t cont_us_ = 0;
};

}  // namespace kfreeze::dump
