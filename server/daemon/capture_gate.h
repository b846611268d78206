// Counts the captures running so shutdown can wait for them; once closed, no capture enters, and
// the check is atomic with the count, so none starts after shutdown stopped waiting.
#pragma once

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kfreeze::server {

class CaptureGate {
 public:
  // False once closed: the caller must not capture.
  bool Enter() {
    absl::MutexLock lock(&mu_);
    if (closed_) return false;
    ++running_;
    return true;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --running_;
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  // Blocks until every capture that entered has left.
  void WaitIdle() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &running_));
  }

 private:
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kfreeze::server
