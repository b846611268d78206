// The arm64 frame-pointer unwinder over stack bytes copied from a paused guest: the kernel's own
// walk (arch/arm64/kernel/stacktrace.c, kunwind_next_frame_record) re-expressed on a StackMemory,
// so a corrupt or racing stack ends in a reason, never a crash or a loop. arm64 kernels have no
// ORC; every frame saves a record {caller's fp, return address} that x29 points at. Pure
// computation: no guest reads, thread-safe.
#pragma once

#include <cstdint>
#include <optional>

#include "core/unwind/stack_memory.h"
#include "core/unwind/unwinder.h"

namespace kfreeze {

// What the walk needs of the guest kernel: the PAC mask and struct pt_regs offsets, from
// VMCOREINFO and BTF. Defaults: 7.3.4's pt_regs (320 bytes: regs[31] at 0, sp 248, pc 256, pstate
// 264, stackframe 296) and no pointer authentication.
struct Arm64FrameLayout {
  // NUMBER(KERNELPACMASK), GENMASK(63, vabits_actual); 0 when the kernel has no PAuth.
  uint64_t pac_mask = 0;
  uint32_t pt_regs_size = 320;
  uint32_t stackframe_offset = 296;  // pt_regs.stackframe (a frame_record_meta since 6.13)
  uint32_t x29_offset = 29 * 8;      // pt_regs.regs[29]
  uint32_t sp_offset = 248;
  uint32_t pc_offset = 256;
  uint32_t pstate_offset = 264;
  // BTF has struct frame_record_meta (v6.13+, c2c6b27b5aa14): a {0,0} record is followed by a
  // type saying "final" or "pt_regs here". Before, {0,0} just ends the chain and EL1 exception
  // frames are ordinary records {x29, elr}.
  bool has_frame_meta = true;
};

// A vCPU's registers.
struct Arm64StartRegs {
  uint64_t pc = 0;
  uint64_t sp = 0;         // only reported, on the first frame
  uint64_t fp = 0;         // x29
  bool user_mode = false;  // PSTATE.EL == 0: nothing of the kernel stack to unwind
  // task.stack + THREAD_SIZE of the task this stack belongs to, when known. The chain's last
  // record is valid only at task_pt_regs(task)->stackframe, as the kernel checks; elsewhere it
  // is reported as corrupt. Without it any final record ends cleanly.
  std::optional<uint64_t> task_stack_end;
};

// A sleeping task's task_struct.thread.cpu_context, saved by cpu_switch_to.
struct Arm64CpuContext {
  uint64_t pc = 0;  // the return address of the cpu_switch_to call (never PAC-signed)
  uint64_t sp = 0;
  uint64_t fp = 0;
  std::optional<uint64_t> task_stack_end;  // as in Arm64StartRegs
};

// Removes a pointer authentication code from a kernel return address, as the kernel's xpaclri:
// bit 55 says which half of the address space the pointer belongs to.
inline uint64_t StripPac(uint64_t addr, uint64_t pac_mask) {
  return (addr & (uint64_t{1} << 55)) ? addr | pac_mask : addr & ~pac_mask;
}

// Frames: the first is pc as-is (FrameVia::kRegs); then one per frame record (kFramePointer, the
// return address PAC-stripped) and one per exception frame crossed (kPtRegs, the exact
// interrupted pc). Records save no sp: a record frame's sp is the address just above the record
// its return address came from (a lower bound of the true sp, as drgn guesses); a pt_regs
// frame's is the saved sp. A clean end (empty stop_reason) is the task's final record, a
// user-mode pt_regs, or a user-mode start.
UnwindResult UnwindArm64(const StackMemory& stack, const Arm64StartRegs& start,
                         const Arm64FrameLayout& layout, const UnwindLimits& limits);

// A sleeping task from its saved cpu_context; the same walk.
UnwindResult UnwindSleepingArm64(const StackMemory& stack, const Arm64CpuContext& saved,
                                 const Arm64FrameLayout& layout, const UnwindLimits& limits);

}  // namespace kfreeze
