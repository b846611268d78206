// Checks the `make test-tsan` setup in both directions (tests/tsan/CMakeLists.txt):
//   locked / notification / await / condvar: correct absl synchronization, must be report-free
//     (fails if absl_sync_tsan.so is not preloaded: TSan cannot see Debian's absl::Mutex);
//   unlocked / wrong_mutex: real races, TSan must report them (fails if the preload or the
//     suppressions hid too much).
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kIters = 2000;

void RunThreads(void (*fn)(int)) {
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(fn, i);
  for (auto& t : threads) t.join();
}

absl::Mutex mu;
long guarded = 0;  // deliberately not ABSL_GUARDED_BY: the racy modes touch it without mu
absl::Mutex other_mu[kThreads];
long payload = 0;

int Locked() {
  RunThreads([](int) {
    for (int i = 0; i < kIters; ++i) {
      absl::MutexLock lock(&mu);
      ++guarded;
    }
  });
  return guarded == kThreads * kIters ? 0 : 1;
}

int Unlocked() {
  RunThreads([](int) {
    for (int i = 0; i < kIters; ++i) ++guarded;
  });
  return 0;
}

int WrongMutex() {
  RunThreads([](int t) {
    for (int i = 0; i < kIters; ++i) {
      absl::MutexLock lock(&other_mu[t]);
      ++guarded;
    }
  });
  return 0;
}

// Publication through Notification: the reader uses both the blocking wait and the inline
// HasBeenNotified() fast path.
int NotificationMode() {
  for (int round = 0; round < 50; ++round) {
    absl::Notification ready;
    payload = 0;
    std::thread writer([&] {
      payload = round + 1;
      ready.Notify();
    });
    if (round % 2 == 0) {
      ready.WaitForNotification();
    } else {
      while (!ready.HasBeenNotified()) std::this_thread::yield();
    }
    const long seen = payload;
    writer.join();
    if (seen != round + 1) return 1;
  }
  return 0;
}

int AwaitMode() {
  bool ready = false;
  std::thread writer([&] {
    payload = 42;
    absl::MutexLock lock(&mu);
    ready = true;
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&ready));
  }
  const long seen = payload;  // before join(): only the mutex orders it after the write
  writer.join();
  return seen == 42 ? 0 : 1;
}

int CondVarMode() {
  absl::CondVar cv;
  bool ready = false;
  std::thread writer([&] {
    payload = 7;
    absl::MutexLock lock(&mu);
    ready = true;
    cv.Signal();
  });
  {
    absl::MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
  }
  const long seen = payload;  // before join(): only the mutex orders it after the write
  writer.join();
  return seen == 7 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "locked") == 0) return Locked();
  if (std::strcmp(mode, "unlocked") == 0) return Unlocked();
  if (std::strcmp(mode, "wrong_mutex") == 0) return WrongMutex();
  if (std::strcmp(mode, "notification") == 0) return NotificationMode();
  if (std::strcmp(mode, "await") == 0) return AwaitMode();
  if (std::strcmp(mode, "condvar") == 0) return CondVarMode();
  std::fprintf(stderr, "usage: %s locked|unlocked|wrong_mutex|notification|await|condvar\n",
               argv[0]);
  return 2;
}
