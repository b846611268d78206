#include "core/walkers/stacks/stack_layout.h"

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers::stacks {
namespace {

// THREAD_SIZE from the init task's stack (__start_init_stack .. __end_init_stack): a power of
// two between 8 KiB and 64 KiB, else the x86-64 default.
uint64_t ThreadSize(const SymbolIndex& symbols) {
  std::optional<Kva> begin = symbols.Address("__start_init_stack");
  std::optional<Kva> end = symbols.Address("__end_init_stack");
  if (!begin || !end || end->value <= begin->value) return kDefaultThreadSize;
  uint64_t size = end->value - begin->value;
  bool power_of_two = (size & (size - 1)) == 0;
  return power_of_two && size >= 8 * 1024 && size <= 64 * 1024 ? size : kDefaultThreadSize;
}

}  // namespace

StackLayout ResolveStackLayout(const OffsetResolver& btf, const SymbolIndex& symbols) {
  StackLayout layout;
  layout.thread_size = ThreadSize(symbols);
  if (absl::StatusOr<uint64_t> sp = btf.Offset("task_struct.thread.sp"); sp.ok()) {
    layout.thread_sp = *sp;
  } else {
    layout.missing = absl::StrCat("task_struct.thread.sp: ", sp.status().message());
  }
  // The frame is in BTF when the kernel's BTF covers arch/x86 switch code; else the layout it
  // has had since v4.9 (r15 r14 r13 r12 bx bp ret_addr).
  absl::StatusOr<uint64_t> bp = btf.Offset("inactive_task_frame.bp");
  absl::StatusOr<uint64_t> ret = btf.Offset("inactive_task_frame.ret_addr");
  absl::StatusOr<uint64_t> size = btf.SizeOf("inactive_task_frame");
  if (bp.ok() && ret.ok() && size.ok() && *ret + 8 <= *size && *bp + 8 <= *size && *size <= 256) {
    layout.frame_bp = static_cast<uint32_t>(*bp);
    layout.frame_ret_addr = static_cast<uint32_t>(*ret);
    layout.frame_size = static_cast<uint32_t>(*size);
  }
  return layout;
}

}  // namespace kfreeze::walkers::stacks
