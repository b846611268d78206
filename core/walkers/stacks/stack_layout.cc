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

// arm64: thread.cpu_context and the pt_regs members the unwinder crosses exception frames with.
void ResolveArm64(const OffsetResolver& btf, StackLayout& layout) {
  layout.switch_frame = SwitchFrame::kArm64CpuContext;
  absl::StatusOr<uint64_t> fp = btf.Offset("task_struct.thread.cpu_context.fp");
  absl::StatusOr<uint64_t> sp = btf.Offset("task_struct.thread.cpu_context.sp");
  absl::StatusOr<uint64_t> pc = btf.Offset("task_struct.thread.cpu_context.pc");
  if (fp.ok() && sp.ok() && pc.ok()) {
    layout.cpu_context = Arm64CpuContextOffsets{*fp, *sp, *pc};
  } else {
    layout.missing = "task_struct.thread.cpu_context lacks fp, sp or pc";
  }
  Arm64FrameLayout& f = layout.arm64_frames;
  absl::StatusOr<uint64_t> size = btf.SizeOf("pt_regs");
  absl::StatusOr<uint64_t> regs = btf.Offset("pt_regs.regs");
  absl::StatusOr<uint64_t> frame = btf.Offset("pt_regs.stackframe");
  absl::StatusOr<uint64_t> regs_sp = btf.Offset("pt_regs.sp");
  absl::StatusOr<uint64_t> regs_pc = btf.Offset("pt_regs.pc");
  absl::StatusOr<uint64_t> pstate = btf.Offset("pt_regs.pstate");
  // Only a layout that fits in a page replaces the 7.3 defaults; the unwinder checks the rest.
  if (size.ok() && regs.ok() && frame.ok() && regs_sp.ok() && regs_pc.ok() && pstate.ok() &&
      *size <= 4096) {
    f.pt_regs_size = static_cast<uint32_t>(*size);
    f.x29_offset = static_cast<uint32_t>(*regs + 29 * 8);
    f.stackframe_offset = static_cast<uint32_t>(*frame);
    f.sp_offset = static_cast<uint32_t>(*regs_sp);
    f.pc_offset = static_cast<uint32_t>(*regs_pc);
    f.pstate_offset = static_cast<uint32_t>(*pstate);
  }
  // v6.13+ ends chains with typed metadata records (struct frame_record_meta).
  f.has_frame_meta = btf.SizeOf("frame_record_meta").ok();
}

}  // namespace

StackLayout ResolveStackLayout(const OffsetResolver& btf, const SymbolIndex& symbols) {
  StackLayout layout;
  layout.thread_size = ThreadSize(symbols);
  if (btf.Offset("task_struct.thread.cpu_context").ok()) {
    ResolveArm64(btf, layout);
    return layout;
  }
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
