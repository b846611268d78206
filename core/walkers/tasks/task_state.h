// task_state_to_char() of include/linux/sched.h: "RSDTtXZPI"[task_state_index(p)]. The TASK_*
// bits are #defines, absent from BTF; their values are fixed since v4.14 (TASK_REPORT).
#pragma once

#include <cstdint>

namespace kfreeze::walkers::tasks {

inline constexpr uint32_t kTaskReport = 0x7f;        // RUNNING..PARKED bits reported to /proc
inline constexpr uint32_t kTaskReportIdle = 0x80;    // TASK_REPORT + 1
inline constexpr uint32_t kTaskIdle = 0x402;         // TASK_UNINTERRUPTIBLE | TASK_NOLOAD
inline constexpr uint32_t kTaskRtlockWait = 0x1000;  // TASK_RTLOCK_WAIT (v5.15+)
inline constexpr uint32_t kTaskUninterruptible = 0x2;

inline char TaskStateChar(uint32_t state, uint32_t exit_state) {
  uint32_t s = (state | exit_state) & kTaskReport;
  if ((state & kTaskIdle) == kTaskIdle) s = kTaskReportIdle;
  if (state & kTaskRtlockWait) s = kTaskUninterruptible;
  int index = s == 0 ? 0 : 32 - __builtin_clz(s);  // fls()
  return "RSDTtXZPI"[index];
}

}  // namespace kfreeze::walkers::tasks
