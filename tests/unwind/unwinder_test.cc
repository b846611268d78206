#include "core/unwind/unwinder.h"

#include <cstring>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unwind/orc_test_tables.h"

namespace kfreeze {
namespace {

using testing::CallSp;
using testing::FakeGuest;
using ::testing::HasSubstr;
using testing::kTextBase;
using testing::OfType;

// Synthetic kernel text: one ORC rule per "function".
constexpr uint64_t T = kTextBase;
constexpr uint64_t kLeaf = T + 0x100;          // push %rbp: CFA = sp + 16, bp saved at CFA - 16
constexpr uint64_t kMid = T + 0x200;           // CFA = sp + 32
constexpr uint64_t kTop = T + 0x300;           // CFA = sp + 8
constexpr uint64_t kForkRet = T + 0x400;       // END_OF_STACK (ret_from_fork_asm)
constexpr uint64_t kIrqEntry = T + 0x500;      // REGS at sp
constexpr uint64_t kSyscallEntry = T + 0x600;  // REGS at sp
constexpr uint64_t kIretEntry = T + 0x700;     // REGS_PARTIAL at sp
constexpr uint64_t kLoop = T + 0x800;          // CFA = sp: corrupt, never moves
constexpr uint64_t kUndef = T + 0x900;         // UNDEFINED
constexpr uint64_t kR10Based = T + 0xa00;      // CFA = r10
constexpr uint64_t kAxBased = T + 0xb00;       // CFA = ax
constexpr uint64_t kSpIndirect = T + 0xc00;    // CFA = [sp] + 16 (call_on_stack)
constexpr uint64_t kBpIndirect = T + 0xd00;    // CFA = [bp - 8] (realigned stack)
constexpr uint64_t kTextEnd = T + 0x20000;
// JIT'd BPF: no ORC, frame pointers.
constexpr uint64_t kBpf = T + 0x100000;
// Stacks: a task stack and, above it, an IRQ stack.
constexpr uint64_t S = 0xffffc90000100000ull;
constexpr uint64_t I = S + 0x100000;

class UnwinderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OrcEntry regs = OfType(OrcType::kRegs, OrcReg::kSp, 0);
    OrcEntry iret = OfType(OrcType::kRegsPartial, OrcReg::kSp, 0);
    OrcEntry r10;
    r10.type = OrcType::kCall;
    r10.sp_reg = OrcReg::kR10;
    OrcEntry ax = r10;
    ax.sp_reg = OrcReg::kAx;
    auto indirect = [](OrcReg reg, int16_t offset) {
      OrcEntry e = CallSp(offset);
      e.sp_reg = reg;
      return e;
    };
    std::vector<testing::TableRow> rows = {
        {T, OfType(OrcType::kUndefined)},
        {kLeaf, CallSp(16, OrcReg::kPrevSp, -16)},
        {kMid, CallSp(32)},
        {kTop, CallSp(8)},
        {kForkRet, OfType(OrcType::kEndOfStack)},
        {kIrqEntry, regs},
        {kSyscallEntry, regs},
        {kIretEntry, iret},
        {kLoop, CallSp(0)},
        {kUndef, OfType(OrcType::kUndefined)},
        {kR10Based, r10},
        {kAxBased, ax},
        {kSpIndirect, indirect(OrcReg::kSpIndirect, 16)},
        {kBpIndirect, indirect(OrcReg::kBpIndirect, -8)},
        {kBpIndirect + 0x100, OfType(OrcType::kUndefined)},
    };
    // Bulk like a real table's, so the layout is detectable. The newest layout: AX exists.
    for (const testing::TableRow& row : testing::TypicalRows(T + 0x10000, 100)) rows.push_back(row);
    OrcSectionRef ref = testing::PlaceTable(guest_, rows, OrcLayout::kV7_1, T, kTextEnd);
    Reader reader = guest_.MakeReader();
    absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {ref});
    ASSERT_TRUE(t.ok()) << t.status();
    tables_ = *t;
  }

  // Stack words by address; Capture() turns them into one StackMemory range per stack.
  void Put(uint64_t at, uint64_t value) { words_[at] = value; }
  void PutPtRegs(uint64_t at, uint64_t ip, uint64_t cs, uint64_t sp, uint64_t bp) {
    for (uint64_t off = 0; off < 168; off += 8) Put(at + off, 0);
    Put(at + 32, bp);
    Put(at + 56, 0xdead10);  // r10
    Put(at + 80, 0xdeada0);  // ax
    Put(at + 128, ip);
    Put(at + 136, cs);
    Put(at + 152, sp);
    Put(at + 160, 0x18);
  }
  StackMemory Capture() const {
    StackMemory m;
    for (uint64_t base : {S, I}) {
      std::vector<uint8_t> bytes(0x4000, 0);
      for (const auto& [at, v] : words_) {
        if (at >= base && at + 8 <= base + bytes.size()) std::memcpy(&bytes[at - base], &v, 8);
      }
      m.Add(base, std::move(bytes));
    }
    return m;
  }
  UnwindResult Run(const UnwindRegisters& regs, UnwindLimits limits = {}) {
    return Unwind(*tables_, Capture(), regs, is_bpf_, limits);
  }
  // The return chain leaf -> mid -> top -> ret_from_fork with the leaf's frame at `sp`.
  void LeafMidTopChain(uint64_t sp) {
    Put(sp, 0x1234);               // leaf's saved bp
    Put(sp + 0x8, kMid + 0x20);    // leaf returns into mid
    Put(sp + 0x28, kTop + 0x10);   // mid (CFA - 8 = sp + 0x10 + 32 - 8)
    Put(sp + 0x30, kForkRet + 1);  // top
  }

  FakeGuest guest_;
  std::shared_ptr<const OrcTables> tables_;
  std::map<uint64_t, uint64_t> words_;
  IsGeneratedCode is_bpf_ = [](uint64_t ip) { return ip >= kBpf && ip < kBpf + 0x1000; };
};

UnwindRegisters Regs(uint64_t ip, uint64_t sp, uint64_t bp = 0,
                     std::optional<uint64_t> r10 = std::nullopt) {
  UnwindRegisters r;
  r.ip = ip;
  r.sp = sp;
  r.bp = bp;
  r.r10 = r10;
  return r;
}
UnwindRegisters UserRegs(uint64_t ip, uint64_t sp) {
  UnwindRegisters r = Regs(ip, sp);
  r.user_mode = true;
  return r;
}

MATCHER_P3(Frame, pc, sp, via, "") { return arg.pc == pc && arg.sp == sp && arg.via == via; }

TEST_F(UnwinderTest, ThroughOrcFramesToTheEndOfStack) {
  LeafMidTopChain(S + 0x100);
  UnwindResult r = Run(Regs(kLeaf + 0x10, S + 0x100));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kLeaf + 0x10, S + 0x100, FrameVia::kRegs),
                                               Frame(kMid + 0x20, S + 0x110, FrameVia::kOrc),
                                               Frame(kTop + 0x10, S + 0x130, FrameVia::kOrc),
                                               Frame(kForkRet + 1, S + 0x138, FrameVia::kOrc)));
}

TEST_F(UnwinderTest, CrossesAnIrqFrameIntoTheInterruptedTask) {
  LeafMidTopChain(S + 0x100);
  // The IRQ stack lies above the task stack: the sp drops once when crossing, which is fine.
  PutPtRegs(I + 0x100, kLeaf + 0x10, 0x10, S + 0x100, 0x1234);
  UnwindResult r = Run(Regs(kIrqEntry + 4, I + 0x100));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kIrqEntry + 4, I + 0x100, FrameVia::kRegs),
                                               Frame(kLeaf + 0x10, S + 0x100, FrameVia::kPtRegs),
                                               Frame(kMid + 0x20, S + 0x110, FrameVia::kOrc),
                                               Frame(kTop + 0x10, S + 0x130, FrameVia::kOrc),
                                               Frame(kForkRet + 1, S + 0x138, FrameVia::kOrc)));
}

TEST_F(UnwinderTest, CrossesAnIretFrame) {
  LeafMidTopChain(S + 0x100);
  Put(I + 0x200, kLeaf + 0x10);  // ip
  Put(I + 0x208, 0x10);          // cs: kernel
  Put(I + 0x218, S + 0x100);     // sp
  UnwindResult r = Run(Regs(kIretEntry, I + 0x200));
  EXPECT_EQ(r.stop_reason, "");
  ASSERT_EQ(r.frames.size(), 5u);
  EXPECT_THAT(r.frames[1], Frame(kLeaf + 0x10, S + 0x100, FrameVia::kPtRegs));
}

TEST_F(UnwinderTest, UserModePtRegsEndsCleanly) {
  Put(S + 0x130, kSyscallEntry + 1);  // top returns into the syscall entry code
  PutPtRegs(S + 0x138, 0x401000, 0x33, 0x7ffc0000, 0);
  UnwindResult r = Run(Regs(kTop + 5, S + 0x130));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ::testing::ElementsAre(Frame(kTop + 5, S + 0x130, FrameVia::kRegs),
                                     Frame(kSyscallEntry + 1, S + 0x138, FrameVia::kOrc)));
  // A vCPU in user mode has no kernel frames at all.
  UnwindResult user = Run(UserRegs(0x401000, 0x7ffc0000));
  EXPECT_TRUE(user.frames.empty());
  EXPECT_EQ(user.stop_reason, "");
}

TEST_F(UnwinderTest, BpfFrameByFramePointerBetweenOrcFrames) {
  // leaf (ORC) -> BPF program (frame pointer) -> mid (ORC) -> top -> ret_from_fork.
  Put(S + 0x100, S + 0x120);     // leaf's saved bp: the BPF frame's bp
  Put(S + 0x108, kBpf + 0x40);   // leaf returns into the BPF program
  Put(S + 0x120, 0x5555);        // the BPF frame: caller's bp
  Put(S + 0x128, kMid + 0x20);   // and return address
  Put(S + 0x148, kTop + 0x10);   // mid: CFA S+0x150
  Put(S + 0x150, kForkRet + 1);  // top: CFA S+0x158
  UnwindResult r = Run(Regs(kLeaf + 0x10, S + 0x100));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ::testing::ElementsAre(Frame(kLeaf + 0x10, S + 0x100, FrameVia::kRegs),
                                     Frame(kBpf + 0x40, S + 0x110, FrameVia::kOrc),
                                     Frame(kMid + 0x20, S + 0x130, FrameVia::kFramePointer),
                                     Frame(kTop + 0x10, S + 0x150, FrameVia::kOrc),
                                     Frame(kForkRet + 1, S + 0x158, FrameVia::kOrc)));
  // Without knowing the JIT ranges, the BPF ip is a dead end with a reason.
  UnwindResult blind = Unwind(*tables_, Capture(), Regs(kLeaf + 0x10, S + 0x100), nullptr, {});
  EXPECT_EQ(blind.frames.size(), 2u);
  EXPECT_EQ(blind.stop_reason, "no ORC entry for ip 0xffff888004100040");
}

TEST_F(UnwinderTest, SleepingTaskFromItsInactiveTaskFrame) {
  // __switch_to_asm's frame at thread.sp: r15 r14 r13 r12 bx bp ret_addr.
  Put(S + 0x100 + 40, 0x9999);
  Put(S + 0x100 + 48, kMid + 0x20);  // back into "__schedule"
  Put(S + 0x150, kTop + 0x10);       // mid: CFA = S+0x138+32
  Put(S + 0x158, kForkRet + 1);      // top: CFA = S+0x160
  UnwindResult r = UnwindSleeping(*tables_, Capture(), S + 0x100, {}, is_bpf_, {});
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kMid + 0x20, S + 0x138, FrameVia::kRegs),
                                               Frame(kTop + 0x10, S + 0x158, FrameVia::kOrc),
                                               Frame(kForkRet + 1, S + 0x160, FrameVia::kOrc)));

  // Another layout (from BTF): bp at 0, ret_addr at 8, 16 bytes.
  words_.clear();
  Put(S + 0x200, 0);
  Put(S + 0x208, kMid + 0x20);
  Put(S + 0x228, kTop + 0x10);
  Put(S + 0x230, kForkRet + 1);
  r = UnwindSleeping(*tables_, Capture(), S + 0x200, {.bp = 0, .ret_addr = 8, .size = 16}, is_bpf_,
                     {});
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_EQ(r.frames.size(), 3u);
}

TEST_F(UnwinderTest, SleepingTaskThatNeverRan) {
  Put(S + 0x100 + 48, kForkRet);  // "returns" to the first byte of ret_from_fork_asm
  UnwindResult r = UnwindSleeping(*tables_, Capture(), S + 0x100, {}, is_bpf_, {});
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kForkRet, S + 0x138, FrameVia::kRegs)));
  UnwindResult lost = UnwindSleeping(*tables_, Capture(), 0x1000, {}, is_bpf_, {});
  EXPECT_TRUE(lost.frames.empty());
  EXPECT_EQ(lost.stop_reason, "inactive_task_frame at 0x1000 not captured");
  UnwindResult wrap = UnwindSleeping(*tables_, Capture(), ~0ull - 8, {}, is_bpf_, {});
  EXPECT_THAT(wrap.stop_reason, HasSubstr("not captured"));
}

TEST_F(UnwinderTest, StackLoopsEndInAReason) {
  // An ORC rule whose CFA is the sp itself: the next frame would sit at the same sp.
  Put(S + 0xf8, kLoop + 0x11);
  UnwindResult r = Run(Regs(kLoop + 0x10, S + 0x100));
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "stack pointer 0xffffc90000100100 did not move up (loop in the stack)");

  // A self-referential frame-pointer chain in BPF code.
  Put(S + 0x200, S + 0x200);
  Put(S + 0x208, kBpf + 0x10);
  r = Run(Regs(kBpf + 0x10, S + 0x1f0, S + 0x200));
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_THAT(r.stop_reason, HasSubstr("did not move up"));

  // Ping-pong between two stacks: back to the IRQ stack below where it was left.
  PutPtRegs(I + 0x100, kIrqEntry, 0x10, S + 0x300, 0);  // IRQ frame -> task stack
  PutPtRegs(S + 0x300, kIrqEntry, 0x10, I + 0x80, 0);   // task stack -> IRQ stack again
  r = Run(Regs(kIrqEntry, I + 0x100));
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "stack pointer 0xffffc90000200080 did not move up (loop in the stack)");
}

TEST_F(UnwinderTest, FrameLimitAndDeadline) {
  // Endless "recursion" in top: every word returns into top again.
  for (uint64_t at = S; at < S + 0x4000; at += 8) Put(at, kTop + 0x10);
  UnwindResult r = Run(Regs(kTop + 0x10, S));
  EXPECT_EQ(r.frames.size(), 64u);
  EXPECT_EQ(r.stop_reason, "stopped after 64 frames at ip 0xffff888004000310");

  int calls = 0;
  UnwindLimits limits;
  limits.max_frames = 100000;
  limits.expired = [&calls] { return ++calls >= 5; };
  r = Run(Regs(kTop + 0x10, S), limits);
  EXPECT_EQ(r.frames.size(), 5u);
  EXPECT_EQ(r.stop_reason, "deadline passed while unwinding at ip 0xffff888004000310");

  // With neither, the end of the captured stack stops it.
  limits.expired = nullptr;
  r = Run(Regs(kTop + 0x10, S), limits);
  EXPECT_EQ(r.frames.size(), 0x4000u / 8 + 1);
  EXPECT_EQ(r.stop_reason, "stack address 0xffffc90000104000 not captured");
}

TEST_F(UnwinderTest, BadStacksEndInReasons) {
  Put(S + 0x108, 0);  // leaf returns to 0
  UnwindResult r = Run(Regs(kLeaf, S + 0x100));
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "zero ip at stack 0xffffc90000100110");

  Put(S + 0x108, kUndef + 1);
  r = Run(Regs(kLeaf, S + 0x100));
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "ORC marks ip 0xffff888004000901 as undefined (no unwind rule)");

  r = Run(Regs(kLeaf, 0x1000));
  EXPECT_EQ(r.stop_reason, "stack address 0x1008 not captured");

  r = Run(Regs(0xffffffff81000000, S));
  EXPECT_EQ(r.stop_reason, "no ORC entry for ip 0xffffffff81000000");

  r = Run(Regs(0, S));
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.stop_reason, "zero ip at stack 0xffffc90000100000");

  // A pt_regs that runs off the captured stack.
  r = Run(Regs(kIrqEntry, S + 0x4000 - 100));
  EXPECT_EQ(r.stop_reason, "stack address 0xffffc90000103f9c not captured");
}

TEST_F(UnwinderTest, RegisterBasedRulesNeedTheRegister) {
  UnwindResult r = Run(Regs(kR10Based, S));
  EXPECT_EQ(r.stop_reason,
            "ORC rule for ip 0xffff888004000a00 needs register r10, which is not known here");
  // Known at the start (a vCPU): CFA = r10.
  LeafMidTopChain(S + 0x100);
  Put(S + 0x1f8, kTop + 0x10);
  Put(S + 0x200, kForkRet + 1);
  r = Run(Regs(kR10Based, S, 0, S + 0x200));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kR10Based, S, FrameVia::kRegs),
                                               Frame(kTop + 0x10, S + 0x200, FrameVia::kOrc),
                                               Frame(kForkRet + 1, S + 0x208, FrameVia::kOrc)));
}

TEST_F(UnwinderTest, RegistersSurviveAnIretFrameAfterFullRegs) {
  // IRQ pt_regs (ax = S+0x400) -> interrupted iret-frame code -> a 7.1 AX-based rule: the iret
  // frame saved no registers, so ax is still the one the full pt_regs held.
  PutPtRegs(I + 0x100, kIretEntry, 0x10, I + 0x300, 0);
  Put(I + 0x100 + 80, S + 0x400);
  Put(I + 0x300, kAxBased);   // iret frame: ip
  Put(I + 0x308, 0x10);       // cs
  Put(I + 0x318, S + 0x100);  // sp
  Put(S + 0x3f8, kForkRet + 1);
  UnwindResult r = Run(Regs(kIrqEntry, I + 0x100));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kIrqEntry, I + 0x100, FrameVia::kRegs),
                                               Frame(kIretEntry, I + 0x300, FrameVia::kPtRegs),
                                               Frame(kAxBased, S + 0x100, FrameVia::kPtRegs),
                                               Frame(kForkRet + 1, S + 0x400, FrameVia::kOrc)));
  // A CALL frame in between forgets them.
  r = Run(Regs(kAxBased, S));
  EXPECT_EQ(r.stop_reason,
            "ORC rule for ip 0xffff888004000b00 needs register ax, which is not known here");
}

TEST_F(UnwinderTest, IndirectStackPointerRules) {
  Put(S + 0x500, S + 0x600);  // [sp]: the previous stack's sp
  Put(S + 0x608, kForkRet + 1);
  UnwindResult r = Run(Regs(kSpIndirect, S + 0x500));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kSpIndirect, S + 0x500, FrameVia::kRegs),
                                               Frame(kForkRet + 1, S + 0x610, FrameVia::kOrc)));
  Put(S + 0x6f8, S + 0x800);  // [bp - 8]: the CFA saved before realigning
  Put(S + 0x7f8, kForkRet + 1);
  r = Run(Regs(kBpIndirect, S + 0x500, S + 0x700));
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ::testing::ElementsAre(Frame(kBpIndirect, S + 0x500, FrameVia::kRegs),
                                               Frame(kForkRet + 1, S + 0x800, FrameVia::kOrc)));
}

}  // namespace
}  // namespace kfreeze
