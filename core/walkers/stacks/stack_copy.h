// The freeze-window half of kernel stacks: copies each task's live stack bytes (from the SP its
// last switch saved to the top of its stack; the whole stack for a running task, whose SP only
// the vCPU knows) and each vCPU's stack above its SP. Unwinding happens after the resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dump/vcpu_capture.h"
#include "core/mem/reader.h"
#include "core/walkers/stacks/stack_layout.h"
#include "core/walkers/tasks/task_stack_refs.h"

namespace kfreeze::walkers::stacks {

// Bytes copied for all tasks of one dump; beyond it the rest get a reason, not a stack.
inline constexpr uint64_t kMaxStackBytesPerDump = 64ull << 20;
// Per vCPU: the IRQ stack (16 KiB) plus the page its SP is in.
inline constexpr uint64_t kMaxVcpuStackCopy = 20 * 1024;

struct TaskStackCopy {
  tasks::TaskStackRef task;
  // What its last switch saved (meaningless for a running task): x86 thread.sp; arm64
  // thread.cpu_context.{sp,fp,pc}.
  uint64_t saved_sp = 0;
  uint64_t saved_fp = 0;
  uint64_t saved_pc = 0;
  uint64_t kva = 0;  // first copied byte
  std::vector<uint8_t> bytes;
  std::string unavailable;  // why nothing was copied
};

struct TaskStackCopies {
  std::vector<TaskStackCopy> tasks;
  uint64_t bytes = 0;
};

TaskStackCopies CopyTaskStacks(Reader& reader, const StackLayout& layout,
                               const tasks::TaskStackRefs& refs);

// From each vCPU's SP up, page by page, until kMaxVcpuStackCopy or an unreadable page (a guard
// page ends every vmalloc'd stack). Only vCPUs in kernel mode (x86 CPL 0, arm64 EL1/EL2) are
// copied.
std::vector<dump::GuestCopy> CopyVcpuStacks(Reader& reader,
                                            const std::vector<dump::VcpuRegisters>& registers);

}  // namespace kfreeze::walkers::stacks
