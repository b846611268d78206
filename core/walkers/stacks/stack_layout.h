// Where a task's kernel stack and its saved switch frame are, from BTF and kallsyms: the member
// offsets the stacks phase reads while the VM is paused, and THREAD_SIZE. The architecture shows
// in the BTF itself: arm64's thread_struct has a cpu_context, x86-64's an sp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/btf/offset_resolver.h"
#include "core/kernel/symbols.h"
#include "core/unwind/fp_unwinder.h"

namespace kfreeze::walkers::stacks {

// x86-64 without KASAN (THREAD_SIZE_ORDER 2) and arm64 with 4K/16K pages; KASAN kernels double
// it and 64K-page arm64 ones use 64 KiB, which the init stack's bounds tell when kallsyms has them.
inline constexpr uint64_t kDefaultThreadSize = 16 * 1024;

// Where a sleeping task's last switch left its registers.
enum class SwitchFrame {
  kX86InactiveTaskFrame,  // pushed on its stack at thread.sp (__switch_to_asm)
  kArm64CpuContext,       // saved in task_struct.thread.cpu_context (cpu_switch_to)
};

// Offsets in task_struct of thread.cpu_context.{fp,sp,pc} (arch/arm64/include/asm/processor.h).
struct Arm64CpuContextOffsets {
  uint64_t fp = 0, sp = 0, pc = 0;
};

struct StackLayout {
  SwitchFrame switch_frame = SwitchFrame::kX86InactiveTaskFrame;
  std::optional<uint64_t> thread_sp;  // task_struct.thread.sp: the SP its last switch saved
  // struct inactive_task_frame, at thread.sp (arch/x86/include/asm/switch_to.h).
  uint32_t frame_bp = 40, frame_ret_addr = 48, frame_size = 56;
  // arm64: thread.cpu_context, and struct pt_regs for the frame-pointer unwinder (its pac_mask
  // comes from VMCOREINFO, not BTF: the phase fills it).
  std::optional<Arm64CpuContextOffsets> cpu_context;
  Arm64FrameLayout arm64_frames;
  uint64_t thread_size = kDefaultThreadSize;
  std::string missing;  // why thread_sp (x86) or cpu_context (arm64) is absent
};

StackLayout ResolveStackLayout(const OffsetResolver& btf, const SymbolIndex& symbols);

}  // namespace kfreeze::walkers::stacks
