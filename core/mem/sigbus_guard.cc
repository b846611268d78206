// SIGBUS-guarded access to mmapped guest RAM: a thread-local jump target plus a chaining handler.
#include "core/mem/sigbus_guard.h"

#include <setjmp.h>
#include <signal.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <atomic>
#include <cstring>
#include <mutex>

namespace kfreeze::internal {
namespace {

// Set only while this thread is inside a guarded region; a plain pointer so the signal handler
// touches no lazily-initialised TLS.
thread_local sigjmp_buf* t_jump_target = nullptr;

struct sigaction g_previous_action;

void OnSigbus(int sig, siginfo_t* info, void* context) {
  sigjmp_buf* target = t_jump_target;
  if (target != nullptr) {
    t_jump_target = nullptr;
    siglongjmp(*target, 1);
  }
  // Not ours: behave as if we had never installed a handler.
  if (g_previous_action.sa_flags & SA_SIGINFO) {
    if (g_previous_action.sa_sigaction != nullptr) {
      g_previous_action.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous_action.sa_handler != SIG_DFL && g_previous_action.sa_handler != SIG_IGN) {
    g_previous_action.sa_handler(sig);
    return;
  }
  // Default action: restore it; the faulting access re-executes and terminates the process.
  signal(SIGBUS, SIG_DFL);
}

void InstallHandlerOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof(action));
    action.sa_sigaction = OnSigbus;
    // SA_NODEFER: we leave the handler by siglongjmp without restoring the signal mask, so SIGBUS
    // must not be blocked while it runs (sigsetjmp(.., 0) skips the sigprocmask syscall).
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &g_previous_action);
  });
}

}  // namespace

bool GuardedCopy(void* dst, const void* src, size_t n) {
  InstallHandlerOnce();
  sigjmp_buf target;
  if (sigsetjmp(target, 0) != 0) return false;
  t_jump_target = &target;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::memcpy(dst, src, n);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_jump_target = nullptr;
  return true;
}

namespace {

void StreamPage(uint8_t* dst, const uint8_t* src, const uint8_t* next) {
#if defined(__x86_64__)
  // SSE2 is in every x86-64: no dispatch. Stores bypass the cache; `next` is fetched meanwhile,
  // since the hardware prefetcher stops at each page boundary.
  for (size_t i = 0; i < 4096; i += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(next + i), _MM_HINT_NTA);
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
#else
  (void)next;
  std::memcpy(dst, src, 4096);
#endif
}

}  // namespace

bool GuardedStreamPages(uint8_t* dst, const uint8_t* const* pages, size_t count) {
  InstallHandlerOnce();
  sigjmp_buf target;
  if (sigsetjmp(target, 0) != 0) return false;
  t_jump_target = &target;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  for (size_t i = 0; i < count; ++i) {
    StreamPage(dst + i * 4096, pages[i], pages[i + 1 < count ? i + 1 : i]);
  }
#if defined(__x86_64__)
  _mm_sfence();  // the streamed stores are visible before anyone reads the copies
#endif
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_jump_target = nullptr;
  return true;
}

int64_t GuardedFindBlock(const uint8_t* base, uint64_t count, uint64_t stride,
                         const uint8_t* pattern, const uint8_t* mask, size_t len) {
  InstallHandlerOnce();
  if (len == 0 || len > 64) return -1;
  uint64_t first8_mask = 0, first8_value = 0;
  size_t head = len < 8 ? len : 8;
  std::memcpy(&first8_mask, mask, head);
  std::memcpy(&first8_value, pattern, head);
  first8_value &= first8_mask;
  sigjmp_buf target;
  if (sigsetjmp(target, 0) != 0) return -1;
  t_jump_target = &target;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  // Only trivially destructible locals between here and the end of the guard (siglongjmp).
  volatile uint64_t found = count;
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t* block = base + i * stride;
    uint64_t word = 0;
    std::memcpy(&word, block, head);
    if ((word & first8_mask) != first8_value) continue;
    bool match = true;
    for (size_t j = head; j < len && match; ++j)
      match = (block[j] & mask[j]) == (pattern[j] & mask[j]);
    if (match) {
      found = i;
      break;
    }
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_jump_target = nullptr;
  return static_cast<int64_t>(found);
}

}  // namespace kfreeze::internal
