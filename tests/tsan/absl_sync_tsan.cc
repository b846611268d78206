// LD_PRELOAD library for `make test-tsan`. Debian's libabsl_synchronization is not built with
// -fsanitize=thread, so ThreadSanitizer never sees absl::Mutex, absl::CondVar or
// absl::Notification synchronize: without this library every ABSL_GUARDED_BY member touched by
// two threads is reported as a data race (a false positive). The library interposes the
// out-of-line entry points (our code, libgrpc and libabsl itself call them through the PLT),
// forwards each call to the real function (dlsym RTLD_NEXT) and tells TSan about the
// happens-before edge the call creates: __tsan_release before a lock is given up,
// __tsan_acquire after it is taken. It adds no synchronization of its own, so a missing lock in
// our code is still reported (tests/tsan/race_canary.cc checks both directions).
// Inside each real call, memory accesses are ignored, as absl's own TSan annotations do: absl
// evaluates absl::Condition predicates (our instrumented code) inside Lock/Unlock/Await, even on
// behalf of another thread while unlocking, at points the edges above cannot bracket.
// Built without -fsanitize=thread; in a process without the TSan runtime it only forwards.
#include <absl/base/options.h>
#include <absl/synchronization/mutex.h>
#include <absl/synchronization/notification.h>
#include <absl/time/time.h>
#include <dlfcn.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

extern "C" {
void __tsan_acquire(void* addr) __attribute__((weak));
void __tsan_release(void* addr) __attribute__((weak));
void AnnotateIgnoreReadsBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreReadsEnd(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesBegin(const char* file, int line) __attribute__((weak));
void AnnotateIgnoreWritesEnd(const char* file, int line) __attribute__((weak));
}

namespace {

#define KFREEZE_STR2(x) #x
#define KFREEZE_STR(x) KFREEZE_STR2(x)

// "_ZN" ("_ZNK" for a const member) "4absl" <len><inline namespace> <rest>: the Itanium
// mangling of absl::<ns>::<rest>; Debian's inline namespace is `debian3`.
template <typename Fn>
Fn Real(const char* prefix, const char* rest) {
  const std::string ns = KFREEZE_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  const std::string name = prefix + ("4absl" + std::to_string(ns.size())) + ns + rest;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    // Never forward to nothing: a silently missing hook would turn into false races or a crash.
    std::fprintf(stderr, "absl_sync_tsan: %s not found in the loaded libabsl: %s\n", name.c_str(),
                 dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

void Acquire(const void* addr) {
  if (__tsan_acquire != nullptr) __tsan_acquire(const_cast<void*>(addr));
}
void Release(const void* addr) {
  if (__tsan_release != nullptr) __tsan_release(const_cast<void*>(addr));
}

// Scope of a real absl call: predicate evaluation inside it is not recorded.
class IgnoreAccesses {
 public:
  IgnoreAccesses() {
    if (AnnotateIgnoreReadsBegin == nullptr || AnnotateIgnoreWritesBegin == nullptr) return;
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~IgnoreAccesses() {
    if (AnnotateIgnoreReadsEnd == nullptr || AnnotateIgnoreWritesEnd == nullptr) return;
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
  }
  IgnoreAccesses(const IgnoreAccesses&) = delete;
  IgnoreAccesses& operator=(const IgnoreAccesses&) = delete;
};

template <typename F>
auto Ignored(F call) {
  IgnoreAccesses scope;
  return call();
}

// Notification is {Mutex mutex_; std::atomic<bool> notified_yet_;}; HasBeenNotified() is inline
// (an instrumented acquire load of notified_yet_), so Notify() also releases on that address.
struct NotificationLayout {
  absl::Mutex mutex;
  std::atomic<bool> notified_yet;
};
static_assert(sizeof(NotificationLayout) == sizeof(absl::Notification));
const void* NotifiedYetAddr(const absl::Notification* n) {
  return reinterpret_cast<const char*>(n) + offsetof(NotificationLayout, notified_yet);
}

}  // namespace

#define KFREEZE_REAL(type, rest) static const auto real = Real<type>("_ZN", rest)
#define KFREEZE_REAL_CONST(type, rest) static const auto real = Real<type>("_ZNK", rest)

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  KFREEZE_REAL(void (*)(Mutex*), "5Mutex4LockEv");
  Ignored([&] { real(this); });
  Acquire(this);
}
void Mutex::ReaderLock() {
  KFREEZE_REAL(void (*)(Mutex*), "5Mutex10ReaderLockEv");
  Ignored([&] { real(this); });
  Acquire(this);
}
bool Mutex::TryLock() {
  KFREEZE_REAL(bool (*)(Mutex*), "5Mutex7TryLockEv");
  const bool locked = Ignored([&] { return real(this); });
  if (locked) Acquire(this);
  return locked;
}
bool Mutex::ReaderTryLock() {
  KFREEZE_REAL(bool (*)(Mutex*), "5Mutex13ReaderTryLockEv");
  const bool locked = Ignored([&] { return real(this); });
  if (locked) Acquire(this);
  return locked;
}
void Mutex::Unlock() {
  KFREEZE_REAL(void (*)(Mutex*), "5Mutex6UnlockEv");
  Release(this);
  Ignored([&] { real(this); });
}
void Mutex::ReaderUnlock() {
  KFREEZE_REAL(void (*)(Mutex*), "5Mutex12ReaderUnlockEv");
  Release(this);
  Ignored([&] { real(this); });
}

// The *When* variants return with the mutex held whether or not the condition became true.
void Mutex::LockWhen(const Condition& cond) {
  KFREEZE_REAL(void (*)(Mutex*, const Condition&), "5Mutex8LockWhenERKNS0_9ConditionE");
  Ignored([&] { real(this, cond); });
  Acquire(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) {
  KFREEZE_REAL(void (*)(Mutex*, const Condition&), "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Ignored([&] { real(this, cond); });
  Acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Duration),
               "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool ok = Ignored([&] { return real(this, cond, timeout); });
  Acquire(this);
  return ok;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Time),
               "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool ok = Ignored([&] { return real(this, cond, deadline); });
  Acquire(this);
  return ok;
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Duration),
               "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool ok = Ignored([&] { return real(this, cond, timeout); });
  Acquire(this);
  return ok;
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Time),
               "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool ok = Ignored([&] { return real(this, cond, deadline); });
  Acquire(this);
  return ok;
}

// Await and CondVar::Wait give the mutex up while they wait and take it back before returning.
void Mutex::Await(const Condition& cond) {
  KFREEZE_REAL(void (*)(Mutex*, const Condition&), "5Mutex5AwaitERKNS0_9ConditionE");
  Release(this);
  Ignored([&] { real(this, cond); });
  Acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Duration),
               "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Release(this);
  const bool ok = Ignored([&] { return real(this, cond, timeout); });
  Acquire(this);
  return ok;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  KFREEZE_REAL(bool (*)(Mutex*, const Condition&, Time),
               "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Release(this);
  const bool ok = Ignored([&] { return real(this, cond, deadline); });
  Acquire(this);
  return ok;
}
void CondVar::Wait(Mutex* mu) {
  KFREEZE_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  Ignored([&] { real(this, mu); });
  Acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  KFREEZE_REAL(bool (*)(CondVar*, Mutex*, Duration),
               "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  const bool ok = Ignored([&] { return real(this, mu, timeout); });
  Acquire(mu);
  return ok;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  KFREEZE_REAL(bool (*)(CondVar*, Mutex*, Time),
               "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  const bool ok = Ignored([&] { return real(this, mu, deadline); });
  Acquire(mu);
  return ok;
}

// Notify publishes; a waiter that sees the notification (fast path without the mutex included)
// happens after it.
void Notification::Notify() {
  KFREEZE_REAL(void (*)(Notification*), "12Notification6NotifyEv");
  Release(this);
  Release(NotifiedYetAddr(this));
  Ignored([&] { real(this); });
}
void Notification::WaitForNotification() const {
  KFREEZE_REAL_CONST(void (*)(const Notification*), "12Notification19WaitForNotificationEv");
  Ignored([&] { real(this); });
  Acquire(this);
}
bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  KFREEZE_REAL_CONST(bool (*)(const Notification*, Duration),
               "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = Ignored([&] { return real(this, timeout); });
  if (notified) Acquire(this);
  return notified;
}
bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  KFREEZE_REAL_CONST(bool (*)(const Notification*, Time),
               "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = Ignored([&] { return real(this, deadline); });
  if (notified) Acquire(this);
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
