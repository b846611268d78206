// Must NOT compile under -DKFREEZE_THREAD_SAFETY=ON: proves -Werror=thread-safety is in effect
// and that clang sees the ABSL_* annotations (tests/tsan/CMakeLists.txt, test thread_safety_canary).
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

class Counter {
 public:
  void Add() { ++value_; }  // writes value_ without holding mu_
 private:
  absl::Mutex mu_;
  int value_ ABSL_GUARDED_BY(mu_) = 0;
};

void Use() {
  Counter c;
  c.Add();
}
