#include "core/unwind/unwinder.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/base/types.h"

namespace kfreeze {
namespace {

// x86-64 struct pt_regs (arch/x86/include/asm/ptrace.h): r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax
// cx dx si di orig_ax ip cs flags sp ss, 8 bytes each.
namespace pt_regs {
constexpr uint64_t kR13 = 16, kBp = 32, kR10 = 56, kAx = 80, kDx = 96, kDi = 112, kIp = 128,
                   kCs = 136, kSp = 152, kSize = 168;
}  // namespace pt_regs
// The iret frame (REGS_PARTIAL points at it): ip cs flags sp ss, i.e. pt_regs from ip on.
namespace iret {
constexpr uint64_t kIp = 0, kCs = 8, kSp = 24, kSize = 40;
}  // namespace iret

// What the kernel assumes for code without ORC: a standard rbp frame.
constexpr OrcEntry kFramePointerEntry = {.sp_offset = 16,
                                         .bp_offset = -16,
                                         .sp_reg = OrcReg::kBp,
                                         .bp_reg = OrcReg::kPrevSp,
                                         .type = OrcType::kCall,
                                         .signal = false};

struct State {
  uint64_t ip = 0, sp = 0, bp = 0;
  // Known only at the start (vCPU) and right after a full pt_regs.
  std::optional<uint64_t> ax, dx, di, r10, r13;
  bool signal = false;  // ip is not a return address: look it up as-is
};

// One step's outcome: the caller's state, a clean end, or a stop reason.
struct Step {
  enum Kind { kNext, kEnd, kStop } kind = kStop;
  State next;
  FrameVia via = FrameVia::kOrc;
  std::string reason;
};

Step Stop(std::string reason) { return Step{Step::kStop, {}, FrameVia::kOrc, std::move(reason)}; }
Step End() { return Step{Step::kEnd, {}, FrameVia::kOrc, ""}; }

std::string NotCaptured(uint64_t addr) {
  return absl::StrCat("stack address ", Hex(addr), " not captured");
}

class Unwinder {
 public:
  Unwinder(const OrcTables& tables, const StackMemory& stack, const IsGeneratedCode& is_generated)
      : tables_(tables), stack_(stack), is_generated_(is_generated) {}

  // Applies the ORC rule for state.ip, giving the caller's frame.
  Step StepOnce(const State& s) const {
    const uint64_t lookup_ip = s.signal ? s.ip : s.ip - 1;
    OrcEntry orc;
    FrameVia via = FrameVia::kOrc;
    if (std::optional<OrcLookup> found = tables_.Find(lookup_ip)) {
      orc = found->entry;
    } else if (is_generated_ && is_generated_(s.ip)) {
      orc = kFramePointerEntry;
      via = FrameVia::kFramePointer;
    } else {
      return Stop(absl::StrCat("no ORC entry for ip ", Hex(s.ip)));
    }
    switch (orc.type) {
      case OrcType::kEndOfStack:
        return End();
      case OrcType::kUndefined:
        return Stop(absl::StrCat("ORC marks ip ", Hex(s.ip), " as undefined (no unwind rule)"));
      case OrcType::kUnknown:
        return Stop(absl::StrCat("ORC entry for ip ", Hex(s.ip), " has an unknown type"));
      case OrcType::kCall:
      case OrcType::kRegs:
      case OrcType::kRegsPartial:
        break;
    }

    // The caller's stack pointer (the CFA for CALL frames; the pt_regs for the others).
    uint64_t cfa = 0;
    switch (orc.sp_reg) {
      case OrcReg::kSp:
        cfa = s.sp + static_cast<uint64_t>(int64_t{orc.sp_offset});
        break;
      case OrcReg::kBp:
        cfa = s.bp + static_cast<uint64_t>(int64_t{orc.sp_offset});
        break;
      case OrcReg::kSpIndirect: {
        std::optional<uint64_t> v = stack_.ReadU64(s.sp);
        if (!v) return Stop(NotCaptured(s.sp));
        cfa = *v + static_cast<uint64_t>(int64_t{orc.sp_offset});
        break;
      }
      case OrcReg::kBpIndirect: {
        const uint64_t at = s.bp + static_cast<uint64_t>(int64_t{orc.sp_offset});
        std::optional<uint64_t> v = stack_.ReadU64(at);
        if (!v) return Stop(NotCaptured(at));
        cfa = *v;
        break;
      }
      case OrcReg::kAx:
      case OrcReg::kDx:
      case OrcReg::kDi:
      case OrcReg::kR10:
      case OrcReg::kR13: {
        const std::optional<uint64_t>& reg = orc.sp_reg == OrcReg::kAx    ? s.ax
                                             : orc.sp_reg == OrcReg::kDx  ? s.dx
                                             : orc.sp_reg == OrcReg::kDi  ? s.di
                                             : orc.sp_reg == OrcReg::kR10 ? s.r10
                                                                          : s.r13;
        if (!reg) {
          return Stop(absl::StrCat("ORC rule for ip ", Hex(s.ip), " needs register ",
                                   OrcRegName(orc.sp_reg), ", which is not known here"));
        }
        cfa = *reg;
        break;
      }
      case OrcReg::kUndefined:
      case OrcReg::kPrevSp:
      case OrcReg::kUnknown:
        return Stop(absl::StrCat("ORC entry for ip ", Hex(s.ip), " has an unusable sp base (",
                                 OrcRegName(orc.sp_reg), ")"));
    }

    Step step;
    step.kind = Step::kNext;
    step.via = via;
    State& n = step.next;
    n.bp = s.bp;
    bool full_regs = false;
    switch (orc.type) {
      case OrcType::kCall: {
        const uint64_t at = cfa - 8;
        std::optional<uint64_t> ra = stack_.ReadU64(at);
        if (!ra) return Stop(NotCaptured(at));
        n.ip = *ra;
        n.sp = cfa;
        break;
      }
      case OrcType::kRegs: {
        if (!stack_.Contains(cfa, pt_regs::kSize)) return Stop(NotCaptured(cfa));
        auto at = [&](uint64_t off) { return *stack_.ReadU64(cfa + off); };
        if (at(pt_regs::kCs) & 3) return End();  // entered from user mode: the stack's bottom
        n.ip = at(pt_regs::kIp);
        n.sp = at(pt_regs::kSp);
        n.ax = at(pt_regs::kAx);
        n.dx = at(pt_regs::kDx);
        n.di = at(pt_regs::kDi);
        n.r10 = at(pt_regs::kR10);
        n.r13 = at(pt_regs::kR13);
        full_regs = true;
        step.via = FrameVia::kPtRegs;
        break;
      }
      case OrcType::kRegsPartial: {
        if (!stack_.Contains(cfa, iret::kSize)) return Stop(NotCaptured(cfa));
        auto at = [&](uint64_t off) { return *stack_.ReadU64(cfa + off); };
        if (at(iret::kCs) & 3) return End();
        n.ip = at(iret::kIp);
        n.sp = at(iret::kSp);
        // The iret frame saved no general registers: those still known (from a full pt_regs
        // just crossed, or the start) are still live, as the kernel's prev_regs has it.
        n.ax = s.ax;
        n.dx = s.dx;
        n.di = s.di;
        n.r10 = s.r10;
        n.r13 = s.r13;
        step.via = FrameVia::kPtRegs;
        break;
      }
      default:
        break;  // handled above
    }
    // An interrupted ip is not a return address.
    n.signal = orc.signal || orc.type != OrcType::kCall;

    switch (orc.bp_reg) {
      case OrcReg::kUndefined:
        // bp unchanged in this frame, or saved in the pt_regs just crossed.
        if (full_regs) n.bp = *stack_.ReadU64(cfa + pt_regs::kBp);
        break;
      case OrcReg::kPrevSp:
      case OrcReg::kBp: {
        const uint64_t base = orc.bp_reg == OrcReg::kPrevSp ? cfa : s.bp;
        const uint64_t at = base + static_cast<uint64_t>(int64_t{orc.bp_offset});
        std::optional<uint64_t> bp = stack_.ReadU64(at);
        if (!bp) return Stop(NotCaptured(at));
        n.bp = *bp;
        break;
      }
      default:
        return Stop(absl::StrCat("ORC entry for ip ", Hex(s.ip), " has an unusable bp base (",
                                 OrcRegName(orc.bp_reg), ")"));
    }
    return step;
  }

  // Frames from `s` on until a clean end or a reason.
  UnwindResult Run(State s, FrameVia first_via, const UnwindLimits& limits) {
    UnwindResult result;
    FrameVia via = first_via;
    for (;;) {
      if (s.ip == 0) {
        result.stop_reason = absl::StrCat("zero ip at stack ", Hex(s.sp));
        break;
      }
      if (result.frames.size() >= limits.max_frames) {
        result.stop_reason =
            absl::StrCat("stopped after ", limits.max_frames, " frames at ip ", Hex(s.ip));
        break;
      }
      if (!SpMovesUp(s.sp)) {
        result.stop_reason =
            absl::StrCat("stack pointer ", Hex(s.sp), " did not move up (loop in the stack)");
        break;
      }
      result.frames.push_back({s.ip, s.sp, via});
      if (limits.expired && limits.expired()) {
        result.stop_reason = absl::StrCat("deadline passed while unwinding at ip ", Hex(s.ip));
        break;
      }
      Step step = StepOnce(s);
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
  // The kernel's loop guard, per captured stack: within one stack the sp only grows. A move to a
  // different stack (IRQ stack -> task stack) is fine once, but never back below where it was.
  bool SpMovesUp(uint64_t sp) {
    const std::optional<uint64_t> range = stack_.RangeStart(sp, 8);
    for (auto& [start, highest] : seen_) {
      if (start != range) continue;
      if (sp <= highest) return false;
      highest = sp;
      return true;
    }
    seen_.push_back({range, sp});
    return true;
  }

  const OrcTables& tables_;
  const StackMemory& stack_;
  const IsGeneratedCode& is_generated_;
  std::vector<std::pair<std::optional<uint64_t>, uint64_t>> seen_;  // (range start, highest sp)
};

}  // namespace

UnwindResult Unwind(const OrcTables& tables, const StackMemory& stack, const UnwindRegisters& start,
                    const IsGeneratedCode& is_generated, const UnwindLimits& limits) {
  if (start.user_mode) return {};  // no kernel frames: a clean, empty unwind
  State s;
  s.ip = start.ip;
  s.sp = start.sp;
  s.bp = start.bp;
  s.ax = start.ax;
  s.dx = start.dx;
  s.di = start.di;
  s.r10 = start.r10;
  s.r13 = start.r13;
  s.signal = true;  // an interrupted ip, not a return address
  return Unwinder(tables, stack, is_generated).Run(s, FrameVia::kRegs, limits);
}

UnwindResult UnwindSleeping(const OrcTables& tables, const StackMemory& stack, uint64_t thread_sp,
                            const InactiveFrameLayout& layout, const IsGeneratedCode& is_generated,
                            const UnwindLimits& limits) {
  UnwindResult result;
  std::optional<uint64_t> bp = stack.ReadU64(thread_sp + layout.bp);
  std::optional<uint64_t> ret = stack.ReadU64(thread_sp + layout.ret_addr);
  if (!bp || !ret || thread_sp > std::numeric_limits<uint64_t>::max() - layout.size) {
    result.stop_reason = absl::StrCat("inactive_task_frame at ", Hex(thread_sp), " not captured");
    return result;
  }
  State s;
  s.ip = *ret;
  s.sp = thread_sp + layout.size;
  s.bp = *bp;
  // A task that never ran "returns" to the first byte of ret_from_fork_asm, whose END_OF_STACK
  // rule only applies to the ip itself (the kernel compares against the symbol; we ask ORC).
  if (std::optional<OrcLookup> at = tables.Find(s.ip);
      at && at->entry.type == OrcType::kEndOfStack) {
    s.signal = true;
  }
  return Unwinder(tables, stack, is_generated).Run(s, FrameVia::kRegs, limits);
}

}  // namespace kfreeze
