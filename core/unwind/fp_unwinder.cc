#include "core/unwind/fp_unwinder.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/types.h"

namespace kfreeze {
namespace {

// struct frame_record {u64 fp; u64 lr;} and, since 6.13, struct frame_record_meta {struct
// frame_record record; u64 type;} (arch/arm64/include/asm/stacktrace/frame.h).
constexpr uint64_t kRecordSize = 16;
constexpr uint64_t kMetaTypeOffset = 16;
constexpr uint64_t kMetaSize = 24;
constexpr uint64_t kMetaTypeFinal = 1;
constexpr uint64_t kMetaTypePtRegs = 2;

struct State {
  uint64_t pc = 0, sp = 0, fp = 0;
};

// One step's outcome: the caller's state, a clean end, or a stop reason.
struct Step {
  enum Kind { kNext, kEnd, kStop } kind = kStop;
  State next;
  FrameVia via = FrameVia::kFramePointer;
  std::string reason;
};

Step Stop(std::string reason) {
  return Step{Step::kStop, {}, FrameVia::kFramePointer, std::move(reason)};
}
Step End() { return Step{Step::kEnd, {}, FrameVia::kFramePointer, ""}; }
Step Next(State next, FrameVia via) { return Step{Step::kNext, next, via, ""}; }

// Offsets BTF gave that do not fit the struct would read beyond the pt_regs.
std::string LayoutProblem(const Arm64FrameLayout& l) {
  const uint64_t stackframe_size = l.has_frame_meta ? kMetaSize : kRecordSize;
  const uint64_t size = l.pt_regs_size;
  if (uint64_t{l.stackframe_offset} + stackframe_size > size || uint64_t{l.x29_offset} + 8 > size ||
      uint64_t{l.sp_offset} + 8 > size || uint64_t{l.pc_offset} + 8 > size ||
      uint64_t{l.pstate_offset} + 8 > size) {
    return absl::StrCat("arm64 pt_regs layout does not fit its size ", size, " (stackframe at ",
                        l.stackframe_offset, ", regs[29] at ", l.x29_offset, ", sp at ",
                        l.sp_offset, ", pc at ", l.pc_offset, ", pstate at ", l.pstate_offset, ")");
  }
  return "";
}

class FpUnwinder {
 public:
  FpUnwinder(const StackMemory& stack, const Arm64FrameLayout& layout,
             std::optional<uint64_t> task_stack_end)
      : stack_(stack), layout_(layout) {
    if (task_stack_end) {
      final_record_ = *task_stack_end - layout.pt_regs_size + layout.stackframe_offset;
    }
  }

  // Frames from `s` on until a clean end or a reason.
  UnwindResult Run(State s, const UnwindLimits& limits) {
    UnwindResult result;
    if (std::string problem = LayoutProblem(layout_); !problem.empty()) {
      result.stop_reason = std::move(problem);
      return result;
    }
    FrameVia via = FrameVia::kRegs;
    for (;;) {
      if (s.pc == 0) {
        result.stop_reason = absl::StrCat("zero pc at frame pointer ", Hex(s.fp));
        break;
      }
      if (result.frames.size() >= limits.max_frames) {
        result.stop_reason =
            absl::StrCat("stopped after ", limits.max_frames, " frames at pc ", Hex(s.pc));
        break;
      }
      result.frames.push_back({s.pc, s.sp, via});
      if (limits.expired && limits.expired()) {
        result.stop_reason = absl::StrCat("deadline passed while unwinding at pc ", Hex(s.pc));
        break;
      }
      Step step = StepOnce(s.fp);
      if (step.kind == Step::kEnd) break;
      if (step.kind == Step::kStop) {
        result.stop_reason = std::move(step.reason);
        break;
      }
      s = step.next;
      via = step.via;
    }
    return result;
  }

 private:
  // The caller of the frame whose record fp points at (kunwind_next_frame_record).
  Step StepOnce(uint64_t fp) {
    if (fp == 0) return Stop("zero frame pointer before the stack's final record");
    if (fp & 7) return Stop(absl::StrCat("frame pointer ", Hex(fp), " is not 8-byte aligned"));
    const std::optional<uint64_t> range = stack_.RangeStart(fp, kRecordSize);
    if (!range) return Stop(absl::StrCat("frame record at ", Hex(fp), " not captured"));
    if (!Unconsumed(*range, fp)) {
      return Stop(absl::StrCat("frame pointer ", Hex(fp), " did not move up (loop in the stack)"));
    }
    const uint64_t caller_fp = *stack_.ReadU64(fp);
    const uint64_t lr = *stack_.ReadU64(fp + 8);
    if (caller_fp == 0 && lr == 0) return Terminal(fp);
    Consume(*range, fp + kRecordSize);
    return Next({StripPac(lr, layout_.pac_mask), fp + kRecordSize, caller_fp},
                FrameVia::kFramePointer);
  }

  // A {0,0} record at fp: the chain's end, or (6.13+) the metadata of an exception frame.
  Step Terminal(uint64_t fp) {
    if (!layout_.has_frame_meta) return FinalAt(fp, "zero frame record");
    const std::optional<uint64_t> type = stack_.ReadU64(fp + kMetaTypeOffset);
    if (!type) return Stop(absl::StrCat("frame_record_meta at ", Hex(fp), " not captured"));
    switch (*type) {
      case kMetaTypeFinal:
        return FinalAt(fp, "final frame record");
      case kMetaTypePtRegs:
        return CrossPtRegs(fp);
      default:
        return Stop(absl::StrCat("frame_record_meta at ", Hex(fp), " has unknown type ", *type));
    }
  }

  // The last record is valid only in the task's own pt_regs at the stack's top; anywhere else
  // it is corruption that would otherwise cut the stack short silently.
  Step FinalAt(uint64_t fp, const char* what) const {
    if (final_record_ && fp != *final_record_) {
      return Stop(absl::StrCat(what, " at ", Hex(fp), " is not the task's last (expected at ",
                               Hex(*final_record_), ")"));
    }
    return End();
  }

  // FRAME_META_TYPE_PT_REGS: the record is pt_regs.stackframe (kunwind_next_regs_pc).
  Step CrossPtRegs(uint64_t meta) {
    const uint64_t size = layout_.pt_regs_size;
    const uint64_t regs = meta - layout_.stackframe_offset;
    const std::optional<uint64_t> range =
        meta >= layout_.stackframe_offset ? stack_.RangeStart(regs, size) : std::nullopt;
    if (!range) {
      return Stop(absl::StrCat("pt_regs at ", Hex(regs), " (", size, " bytes, from the record at ",
                               Hex(meta), ") not captured"));
    }
    if (!Unconsumed(*range, regs)) {
      return Stop(absl::StrCat("pt_regs at ", Hex(regs),
                               " lies below an earlier frame (loop in "
                               "the stack)"));
    }
    auto field = [&](uint32_t offset) { return *stack_.ReadU64(regs + offset); };
    // EL bits [3:2] of PSTATE: an exception taken from EL0 is the bottom of the kernel stack.
    if (((field(layout_.pstate_offset) >> 2) & 3) == 0) return End();
    Consume(*range, regs + size);
    // ELR is never PAC-signed: the interrupted pc as the CPU had it.
    return Next({field(layout_.pc_offset), field(layout_.sp_offset), field(layout_.x29_offset)},
                FrameVia::kPtRegs);
  }

  // The kernel's loop guard (unwind_consume_stack), per captured stack: a frame record or pt_regs
  // must lie above everything this stack already gave. A move to another stack (IRQ stack ->
  // task stack) is fine, but never back below where that stack was left, as the x86 unwinder's
  // SpMovesUp does.
  bool Unconsumed(uint64_t range, uint64_t addr) const {
    for (const auto& [start, floor] : floors_) {
      if (start == range) return addr >= floor;
    }
    return true;
  }
  void Consume(uint64_t range, uint64_t new_floor) {
    for (auto& [start, floor] : floors_) {
      if (start == range) {
        floor = new_floor;
        return;
      }
    }
    floors_.push_back({range, new_floor});
  }

  const StackMemory& stack_;
  const Arm64FrameLayout& layout_;
  std::optional<uint64_t> final_record_;
  std::vector<std::pair<uint64_t, uint64_t>> floors_;  // (range start, lowest unconsumed address)
};

}  // namespace

UnwindResult UnwindArm64(const StackMemory& stack, const Arm64StartRegs& start,
                         const Arm64FrameLayout& layout, const UnwindLimits& limits) {
  if (start.user_mode) return {};  // no kernel frames: a clean, empty unwind
  return FpUnwinder(stack, layout, start.task_stack_end)
      .Run({start.pc, start.sp, start.fp}, limits);
}

UnwindResult UnwindSleepingArm64(const StackMemory& stack, const Arm64CpuContext& saved,
                                 const Arm64FrameLayout& layout, const UnwindLimits& limits) {
  return FpUnwinder(stack, layout, saved.task_stack_end)
      .Run({saved.pc, saved.sp, saved.fp}, limits);
}

}  // namespace kfreeze
