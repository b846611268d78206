#include "server/daemon/attach_threads.h"

#include <utility>

namespace kfreeze::server {

AttachThreads::~AttachThreads() { CloseAndJoin(); }

bool AttachThreads::Start(std::function<void()> attach) {
  absl::MutexLock lock(&mu_);
  // After CloseAndJoin collected the threads to join, a new one would never be joined.
  if (closed_) return false;
  std::erase_if(threads_, [](AttachThread& t) {
    if (!t.finished->load()) return false;
    t.thread.join();  // it has returned from its body: no wait
    return true;
  });
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([attach = std::move(attach), finished] {
    attach();
    finished->store(true);
  });
  threads_.push_back(AttachThread{std::move(thread), std::move(finished)});
  return true;
}

size_t AttachThreads::Held() const {
  absl::MutexLock lock(&mu_);
  return threads_.size();
}

void AttachThreads::CloseAndJoin() {
  std::vector<AttachThread> threads;
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    threads.swap(threads_);
  }
  for (AttachThread& t : threads) {
    if (t.thread.joinable()) t.thread.join();
  }
}

}  // namespace kfreeze::server
