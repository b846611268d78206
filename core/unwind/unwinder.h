// The x86-64 ORC unwinder over stack bytes copied from a paused guest: the kernel's own algorithm
// (arch/x86/kernel/unwind_orc.c) re-expressed on a StackMemory, so a corrupt or racing stack ends
// in a reason, never a crash or a loop. Pure computation: no guest reads, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/unwind/orc_table.h"
#include "core/unwind/stack_memory.h"

namespace kfreeze {

// Where an unwind starts. A vCPU gives the full set; the optional registers are only needed by
// the few entry-code ORC rules based on them.
struct UnwindRegisters {
  uint64_t ip = 0, sp = 0, bp = 0;
  std::optional<uint64_t> dx, di, r10, r13;
  bool user_mode = false;      // CS & 3: nothing of the kernel stack to unwind
  std::optional<uint64_t> ax;  // only 7.1+ ORC rules use it
};

enum class FrameVia {
  kRegs,          // the starting ip
  kOrc,           // a return address found by an ORC CALL rule
  kFramePointer,  // a return address found through rbp (BPF JIT code has no ORC)
  kPtRegs,        // the interrupted ip of an exception/IRQ frame (struct pt_regs or iret frame)
};

struct UnwindFrame {
  uint64_t pc = 0;
  uint64_t sp = 0;
  FrameVia via = FrameVia::kRegs;
};

struct UnwindResult {
  std::vector<UnwindFrame> frames;
  // Empty when the unwind reached a clean end: a pt_regs/iret frame from user mode, or an
  // END_OF_STACK rule (ret_from_fork, idle and startup code). Otherwise one short sentence.
  std::string stop_reason;
};

struct UnwindLimits {
  size_t max_frames = 64;
  std::function<bool()> expired;  // the deadline; null = none
};

// ip -> whether it is generated code without ORC (BPF JIT), unwound by frame pointer as the
// kernel's ORC unwinder does: the caller's bp at [bp], the return address at [bp + 8]. May be null.
using IsGeneratedCode = std::function<bool(uint64_t ip)>;

// From a full register set (a vCPU, or a pt_regs): the first ip is looked up as-is.
UnwindResult Unwind(const OrcTables& tables, const StackMemory& stack, const UnwindRegisters& start,
                    const IsGeneratedCode& is_generated, const UnwindLimits& limits);

// Byte offsets within struct inactive_task_frame (arch/x86/include/asm/switch_to.h), which
// __switch_to_asm pushes and task->thread.sp points at. Defaults: x86-64's r15 r14 r13 r12 bx bp
// ret_addr; pass BTF's offsets when known.
struct InactiveFrameLayout {
  uint32_t bp = 40, ret_addr = 48, size = 56;
};

// A sleeping task: bp and the return address from the frame at thread_sp, sp just above it.
UnwindResult UnwindSleeping(const OrcTables& tables, const StackMemory& stack, uint64_t thread_sp,
                            const InactiveFrameLayout& layout, const IsGeneratedCode& is_generated,
                            const UnwindLimits& limits);

}  // namespace kfreeze
