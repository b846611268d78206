// Where a task's kernel stack and its saved switch frame are, from BTF and kallsyms: the member
// offsets the stacks phase reads while the VM is paused, and THREAD_SIZE.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/btf/offset_resolver.h"
#include "core/kernel/symbols.h"

namespace kfreeze::walkers::stacks {

// x86-64 without KASAN (THREAD_SIZE_ORDER 2); KASAN kernels double it, which the init stack's
// bounds tell when kallsyms has them.
inline constexpr uint64_t kDefaultThreadSize = 16 * 1024;

struct StackLayout {
  std::optional<uint64_t> thread_sp;  // task_struct.thread.sp: the SP its last switch saved
  // struct inactive_task_frame, at thread.sp (arch/x86/include/asm/switch_to.h).
  uint32_t frame_bp = 40, frame_ret_addr = 48, frame_size = 56;
  uint64_t thread_size = kDefaultThreadSize;
  std::string missing;  // why thread_sp is absent
};

StackLayout ResolveStackLayout(const OffsetResolver& btf, const SymbolIndex& symbols);

}  // namespace kfreeze::walkers::stacks
