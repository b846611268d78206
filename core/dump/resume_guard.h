// RAII resume: once a VM was asked to stop, it is resumed on every path out of the freeze
// (walker error, deadline overrun, exception, shutdown) unless the caller explicitly keeps it
// paused. ActivePauses lets a shutting-down daemon resume every VM paused mid-walk at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>

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

  // Leave the VM paused (keep_paused); the caller now owns resuming it. False (and nothing
  // changes) when it was already resumed, e.g. by a shutdown.
  bool KeepPaused() {
    std::lock_guard<std::mutex> lock(mu_);
    if (resumed_) return false;
    released_ = true;
    return true;
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

// The guards of the freezes holding a VM paused right now. ResumeAll() (daemon shutdown) resumes
// them at once instead of waiting for each walk to reach its hard deadline, and resumes any guard
// added afterwards as soon as it is added.
class ActivePauses {
 public:
  // Registers `guard` for its lifetime; `pauses` may be null (nothing to register with).
  class Registration {
   public:
    Registration(ActivePauses* pauses, ResumeGuard* guard) : pauses_(pauses), guard_(guard) {
      if (pauses_ != nullptr) pauses_->Add(guard_);
    }
    ~Registration() {
      if (pauses_ != nullptr) pauses_->Remove(guard_);
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    ActivePauses* pauses_;
    ResumeGuard* guard_;
  };

  void ResumeAll() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (ResumeGuard* g : guards_) (void)g->Resume();
  }

 private:
  void Add(ResumeGuard* guard) {
    std::lock_guard<std::mutex> lock(mu_);
    guards_.insert(guard);
    if (closed_) (void)guard->Resume();
  }
  // Waits for a ResumeAll() in progress, so a guard is never used after its freeze returned.
  void Remove(ResumeGuard* guard) {
    std::lock_guard<std::mutex> lock(mu_);
    guards_.erase(guard);
  }

  std::mutex mu_;
  std::set<ResumeGuard*> guards_;
  bool closed_ = false;
};

}  // namespace kfreeze::dump
