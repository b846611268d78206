// Background attaches, one thread each. A finished one is joined when the next one starts, so the
// list holds only attaches still running (plus finished ones not yet reaped), not every attach
// since startup.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kfreeze::server {

class AttachThreads {
 public:
  ~AttachThreads();  // CloseAndJoin()
  // Runs `attach` on a new thread; false (and nothing runs) once closed.
  bool Start(std::function<void()> attach);
  // Threads not yet joined (tests: they must not pile up over attach cycles).
  size_t Held() const;
  // Refuses new threads, then joins every one started.
  void CloseAndJoin();

 private:
  struct AttachThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  mutable absl::Mutex mu_;
  std::vector<AttachThread> threads_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kfreeze::server
