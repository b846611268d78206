#include "core/unwind/fp_unwinder.h"

#include <cstring>
#include <map>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Synthetic kernel text: return addresses into "functions".
constexpr uint64_t T = 0xffff800080010000ull;
constexpr uint64_t kLeaf = T + 0x100;
constexpr uint64_t kMid = T + 0x200;
constexpr uint64_t kTop = T + 0x300;
constexpr uint64_t kRetFromFork = T + 0x400;
constexpr uint64_t kEl1Irq = T + 0x500;  // el1h_64_irq: saves a pt_regs
constexpr uint64_t kIrqHandler = T + 0x600;
constexpr uint64_t kCallOnIrqStack = T + 0x700;
constexpr uint64_t kSwitchTo = T + 0x800;
constexpr uint64_t kSchedule = T + 0x900;
constexpr uint64_t kSyscall = T + 0xa00;
// A task stack and, above it, an IRQ stack: the switch to the task stack moves fp down once.
constexpr uint64_t kThreadSize = 0x4000;
constexpr uint64_t S = 0xffff800082e8c000ull;
constexpr uint64_t I = S + 0x100000;
constexpr uint64_t kStackEnd = S + kThreadSize;
// task_pt_regs(task)->stackframe with 7.3.4's pt_regs (320 bytes, stackframe at 296).
constexpr uint64_t kFinal = kStackEnd - 24;
constexpr uint64_t kEl1h = 0x60000005;  // PSTATE: EL1, SP_EL1
constexpr uint64_t kEl0t = 0x80000000;
constexpr uint64_t kMetaFinal = 1, kMetaPtRegs = 2;

class FpUnwinderTest : public ::testing::Test {
 protected:
  // Stack words by address; Capture() turns them into one StackMemory range per stack.
  void Put(uint64_t at, uint64_t value) { words_[at] = value; }
  void Record(uint64_t at, uint64_t fp, uint64_t lr) {
    Put(at, fp);
    Put(at + 8, lr);
  }
  void Meta(uint64_t at, uint64_t type) {
    Record(at, 0, 0);
    Put(at + 16, type);
  }
  // A 6.13+ pt_regs at `at` whose stackframe is a PT_REGS meta record (at + 296).
  void PtRegs(uint64_t at, uint64_t pc, uint64_t sp, uint64_t x29, uint64_t pstate) {
    for (uint64_t off = 0; off < 320; off += 8) Put(at + off, 0x5a5a0000 + off);
    Put(at + 29 * 8, x29);
    Put(at + 248, sp);
    Put(at + 256, pc);
    Put(at + 264, pstate);
    Meta(at + 296, kMetaPtRegs);
  }
  StackMemory Capture() const {
    StackMemory m;
    for (uint64_t base : {S, I}) {
      std::vector<uint8_t> bytes(kThreadSize, 0);
      for (const auto& [at, v] : words_) {
        if (at >= base && at + 8 <= base + bytes.size()) std::memcpy(&bytes[at - base], &v, 8);
      }
      m.Add(base, std::move(bytes));
    }
    return m;
  }
  UnwindResult Run(uint64_t pc, uint64_t sp, uint64_t fp, UnwindLimits limits = {}) {
    Arm64StartRegs start;
    start.pc = pc;
    start.sp = sp;
    start.fp = fp;
    start.task_stack_end = kStackEnd;
    return UnwindArm64(Capture(), start, layout_, limits);
  }

  std::map<uint64_t, uint64_t> words_;
  Arm64FrameLayout layout_;
};

MATCHER_P3(Frame, pc, sp, via, "") { return arg.pc == pc && arg.sp == sp && arg.via == via; }

TEST_F(FpUnwinderTest, ChainToTheFinalRecord) {
  Record(S + 0x3000, S + 0x3100, kMid + 0x10);
  Record(S + 0x3100, S + 0x3200, kTop + 0x20);
  Record(S + 0x3200, kFinal, kRetFromFork + 0x10);
  Meta(kFinal, kMetaFinal);
  UnwindResult r = Run(kLeaf + 4, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ElementsAre(Frame(kLeaf + 4, S + 0x2ff0, FrameVia::kRegs),
                          Frame(kMid + 0x10, S + 0x3010, FrameVia::kFramePointer),
                          Frame(kTop + 0x20, S + 0x3110, FrameVia::kFramePointer),
                          Frame(kRetFromFork + 0x10, S + 0x3210, FrameVia::kFramePointer)));
  // Without the task's stack end, the final record is taken where it is.
  UnwindResult anywhere = UnwindArm64(
      Capture(), {.pc = kLeaf + 4, .sp = 0, .fp = S + 0x3000, .task_stack_end = std::nullopt},
      layout_, {});
  EXPECT_EQ(anywhere.stop_reason, "");
  EXPECT_EQ(anywhere.frames.size(), 4u);
}

TEST(StripPac, RestoresTheKernelAddress) {
  constexpr uint64_t kMask = 0xfff0000000000000ull;
  EXPECT_EQ(StripPac(0xb4bf940e5bae3b0cull, kMask), 0xffff940e5bae3b0cull);
  EXPECT_EQ(StripPac(0xffff940e5bae3b0cull, kMask), 0xffff940e5bae3b0cull);  // unsigned already
  EXPECT_EQ(StripPac(0x0030000000401000ull, kMask), 0x401000u);              // bit 55 clear
  EXPECT_EQ(StripPac(0xb4bf940e5bae3b0cull, 0), 0xb4bf940e5bae3b0cull);      // no PAuth
}

TEST_F(FpUnwinderTest, StripsPacFromReturnAddresses) {
  Record(S + 0x3000, S + 0x3100, 0xb4bf940e5bae3b0cull);
  Record(S + 0x3100, kFinal, 0x8c8f80008001a404ull);
  Meta(kFinal, kMetaFinal);
  layout_.pac_mask = 0xfff0000000000000ull;
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ElementsAre(Frame(kLeaf, S + 0x2ff0, FrameVia::kRegs),
                          Frame(0xffff940e5bae3b0cull, S + 0x3010, FrameVia::kFramePointer),
                          Frame(0xffff80008001a404ull, S + 0x3110, FrameVia::kFramePointer)));
  // A kernel without PAuth: return addresses are reported as read.
  layout_.pac_mask = 0;
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  ASSERT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.frames[1].pc, 0xb4bf940e5bae3b0cull);
  EXPECT_EQ(r.frames[2].pc, 0x8c8f80008001a404ull);
}

TEST_F(FpUnwinderTest, CrossesFromTheIrqStackToTheTaskStack) {
  // call_on_irq_stack: the IRQ stack's outermost record links back to the task stack.
  Record(I + 0x3f00, I + 0x3f80, kMid + 0x10);
  Record(I + 0x3f80, S + 0x3000, kCallOnIrqStack + 0x30);
  Record(S + 0x3000, kFinal, kRetFromFork + 0x10);
  Meta(kFinal, kMetaFinal);
  UnwindResult r = Run(kLeaf + 4, I + 0x3ef0, I + 0x3f00);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ElementsAre(Frame(kLeaf + 4, I + 0x3ef0, FrameVia::kRegs),
                          Frame(kMid + 0x10, I + 0x3f10, FrameVia::kFramePointer),
                          Frame(kCallOnIrqStack + 0x30, I + 0x3f90, FrameVia::kFramePointer),
                          Frame(kRetFromFork + 0x10, S + 0x3010, FrameVia::kFramePointer)));

  // Ping-pong: back to the IRQ stack below where the walk left it.
  Record(S + 0x3000, I + 0x3f00, kTop);
  r = Run(kLeaf + 4, I + 0x3ef0, I + 0x3f00);
  EXPECT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.stop_reason, "frame pointer 0xffff800082f8ff00 did not move up (loop in the stack)");
}

TEST_F(FpUnwinderTest, CrossesAKernelModePtRegs) {
  // An IRQ taken in kLeaf: el1h_64_irq saved pt_regs at S+0x2100 (its stackframe, a PT_REGS meta
  // record, at S+0x2228); the handler's chain links to that record.
  Record(S + 0x2000, S + 0x2228, kEl1Irq + 0x40);
  PtRegs(S + 0x2100, kLeaf + 8, S + 0x2240, S + 0x2300, kEl1h);
  Record(S + 0x2300, kFinal, kTop + 0x20);
  Meta(kFinal, kMetaFinal);
  UnwindResult r = Run(kIrqHandler + 4, S + 0x1ff0, S + 0x2000);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ElementsAre(Frame(kIrqHandler + 4, S + 0x1ff0, FrameVia::kRegs),
                                    Frame(kEl1Irq + 0x40, S + 0x2010, FrameVia::kFramePointer),
                                    Frame(kLeaf + 8, S + 0x2240, FrameVia::kPtRegs),
                                    Frame(kTop + 0x20, S + 0x2310, FrameVia::kFramePointer)));
}

TEST_F(FpUnwinderTest, UserModePtRegsEndsCleanly) {
  PtRegs(kStackEnd - 320, 0x401000, 0x7ffc0000, 0x7ffc0010, kEl0t);
  Record(S + 0x3000, kFinal, kSyscall + 0x30);
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ElementsAre(Frame(kLeaf, S + 0x2ff0, FrameVia::kRegs),
                                    Frame(kSyscall + 0x30, S + 0x3010, FrameVia::kFramePointer)));
  // A vCPU in user mode has no kernel frames at all.
  UnwindResult user = UnwindArm64(Capture(),
                                  {.pc = 0x401000,
                                   .sp = 0x7ffc0000,
                                   .fp = 0,
                                   .user_mode = true,
                                   .task_stack_end = std::nullopt},
                                  layout_, {});
  EXPECT_TRUE(user.frames.empty());
  EXPECT_EQ(user.stop_reason, "");
}

TEST_F(FpUnwinderTest, Before613AZeroRecordEndsAndExceptionFramesAreRecords) {
  // A pt_regs of another size, stackframe a plain {x29, elr} record (entry.S before 6.13).
  layout_.has_frame_meta = false;
  layout_.pt_regs_size = 336;
  layout_.stackframe_offset = 304;
  const uint64_t final_record = kStackEnd - 336 + 304;
  const uint64_t regs = S + 0x2100;
  Record(S + 0x2000, regs + 304, kEl1Irq + 0x40);
  Record(regs + 304, S + 0x2300, kLeaf + 8);  // the interrupted pc as a "return address"
  Record(S + 0x2300, final_record, kTop + 0x20);
  Record(final_record, 0, 0);
  Put(final_record + 16, 7);  // no meta type follows before 6.13: whatever is there is ignored
  UnwindResult r = Run(kIrqHandler + 4, S + 0x1ff0, S + 0x2000);
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ElementsAre(Frame(kIrqHandler + 4, S + 0x1ff0, FrameVia::kRegs),
                                    Frame(kEl1Irq + 0x40, S + 0x2010, FrameVia::kFramePointer),
                                    Frame(kLeaf + 8, regs + 320, FrameVia::kFramePointer),
                                    Frame(kTop + 0x20, S + 0x2310, FrameVia::kFramePointer)));

  // A zero record anywhere else is corruption, not the end.
  Record(S + 0x2300, S + 0x2400, kTop + 0x20);
  r = Run(kIrqHandler + 4, S + 0x1ff0, S + 0x2000);
  EXPECT_EQ(r.frames.size(), 4u);
  EXPECT_EQ(r.stop_reason,
            "zero frame record at 0xffff800082e8e400 is not the task's last (expected at "
            "0xffff800082e8ffe0)");
}

TEST_F(FpUnwinderTest, BadMetaRecordsEndInReasons) {
  Record(S + 0x3000, kFinal, kTop);
  Meta(kFinal, 7);
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "frame_record_meta at 0xffff800082e8ffe8 has unknown type 7");

  // A FINAL record away from the task's pt_regs.
  Record(S + 0x3000, S + 0x3100, kTop);
  Meta(S + 0x3100, kMetaFinal);
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason,
            "final frame record at 0xffff800082e8f100 is not the task's last (expected at "
            "0xffff800082e8ffe8)");

  // A zero record whose type lies beyond the captured stack.
  words_.clear();
  Record(S + 0x3000, kStackEnd - 16, kTop);
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "frame_record_meta at 0xffff800082e8fff0 not captured");
}

TEST_F(FpUnwinderTest, LoopsEndInAReason) {
  Record(S + 0x3000, S + 0x3000, kTop);  // a record pointing at itself
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "frame pointer 0xffff800082e8f000 did not move up (loop in the stack)");

  // Up by less than the record just read: the next record would overlap it.
  Record(S + 0x3000, S + 0x3008, kTop);
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_THAT(r.stop_reason, HasSubstr("did not move up"));

  // A PT_REGS record whose pt_regs begins below a record already walked.
  Record(S + 0x3000, S + 0x3100, kEl1Irq);
  Meta(S + 0x3100, kMetaPtRegs);  // pt_regs at S+0x2fd8
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason,
            "pt_regs at 0xffff800082e8efd8 lies below an earlier frame (loop in the stack)");

  // A pt_regs whose saved x29 points back into itself.
  Record(S + 0x2000, S + 0x2228, kEl1Irq);
  PtRegs(S + 0x2100, kLeaf + 8, S + 0x2240, S + 0x2100, kEl1h);
  r = Run(kLeaf, S + 0x1ff0, S + 0x2000);
  EXPECT_EQ(r.frames.size(), 3u);
  EXPECT_EQ(r.stop_reason, "frame pointer 0xffff800082e8e100 did not move up (loop in the stack)");
}

TEST_F(FpUnwinderTest, BadFramePointersEndInReasons) {
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3004);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "frame pointer 0xffff800082e8f004 is not 8-byte aligned");

  Record(S + 0x3000, 0xffff000012345000ull, kTop);
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason, "frame record at 0xffff000012345000 not captured");

  r = Run(kLeaf, S + 0x2ff0, kStackEnd - 8);  // half of the record beyond the stack
  EXPECT_EQ(r.stop_reason, "frame record at 0xffff800082e8fff8 not captured");

  r = Run(kLeaf, S + 0x2ff0, 0);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "zero frame pointer before the stack's final record");

  Record(S + 0x3000, S + 0x3100, 0);  // a record returning to 0
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.stop_reason, "zero pc at frame pointer 0xffff800082e8f100");

  r = Run(0, S + 0x2ff0, S + 0x3000);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.stop_reason, "zero pc at frame pointer 0xffff800082e8f000");
}

TEST_F(FpUnwinderTest, PtRegsRunningOffTheStack) {
  // The meta record near the stack's bottom: its pt_regs would begin below the stack.
  Record(S + 0x20, S + 0x80, kEl1Irq);
  Meta(S + 0x80, kMetaPtRegs);
  UnwindResult r = Run(kLeaf, S + 0x10, S + 0x20);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason,
            "pt_regs at 0xffff800082e8bf58 (320 bytes, from the record at 0xffff800082e8c080) "
            "not captured");

  // A pt_regs with a field after stackframe, its meta at the top: it runs past the stack's end.
  layout_.pt_regs_size = 336;
  Record(S + 0x3000, kFinal, kEl1Irq);
  Meta(kFinal, kMetaPtRegs);
  r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_EQ(r.frames.size(), 2u);
  EXPECT_EQ(r.stop_reason,
            "pt_regs at 0xffff800082e8fec0 (336 bytes, from the record at 0xffff800082e8ffe8) "
            "not captured");
}

TEST_F(FpUnwinderTest, LayoutThatDoesNotFit) {
  layout_.pt_regs_size = 200;
  UnwindResult r = Run(kLeaf, S + 0x2ff0, S + 0x3000);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_THAT(r.stop_reason, HasSubstr("arm64 pt_regs layout does not fit its size 200"));
}

TEST_F(FpUnwinderTest, FrameLimitAndDeadline) {
  // Endless "recursion": a record every 16 bytes up the whole stack.
  for (uint64_t at = S; at < kStackEnd; at += 16) Record(at, at + 16, kTop + 0x10);
  UnwindResult r = Run(kTop + 0x10, S, S);
  EXPECT_EQ(r.frames.size(), 64u);
  EXPECT_EQ(r.stop_reason, "stopped after 64 frames at pc 0xffff800080010310");

  int calls = 0;
  UnwindLimits limits;
  limits.max_frames = 100000;
  limits.expired = [&calls] { return ++calls >= 5; };
  r = Run(kTop + 0x10, S, S, limits);
  EXPECT_EQ(r.frames.size(), 5u);
  EXPECT_EQ(r.stop_reason, "deadline passed while unwinding at pc 0xffff800080010310");

  // With neither, the end of the captured stack stops it.
  limits.expired = nullptr;
  r = Run(kTop + 0x10, S, S, limits);
  EXPECT_EQ(r.frames.size(), kThreadSize / 16 + 1);
  EXPECT_EQ(r.stop_reason, "frame record at 0xffff800082e90000 not captured");
}

TEST_F(FpUnwinderTest, SleepingTaskFromItsCpuContext) {
  // cpu_switch_to saved the return address into __switch_to and __switch_to's frame pointer.
  Record(S + 0x3e10, S + 0x3e80, kSchedule + 0x200);
  Record(S + 0x3e80, kFinal, kRetFromFork + 0x10);
  Meta(kFinal, kMetaFinal);
  UnwindResult r = UnwindSleepingArm64(
      Capture(),
      {.pc = kSwitchTo + 0x40, .sp = S + 0x3e00, .fp = S + 0x3e10, .task_stack_end = kStackEnd},
      layout_, {});
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames,
              ElementsAre(Frame(kSwitchTo + 0x40, S + 0x3e00, FrameVia::kRegs),
                          Frame(kSchedule + 0x200, S + 0x3e20, FrameVia::kFramePointer),
                          Frame(kRetFromFork + 0x10, S + 0x3e90, FrameVia::kFramePointer)));

  // A task that never ran: copy_thread points fp at its final record and pc at ret_from_fork.
  r = UnwindSleepingArm64(
      Capture(),
      {.pc = kRetFromFork, .sp = kStackEnd - 320, .fp = kFinal, .task_stack_end = kStackEnd},
      layout_, {});
  EXPECT_EQ(r.stop_reason, "");
  EXPECT_THAT(r.frames, ElementsAre(Frame(kRetFromFork, kStackEnd - 320, FrameVia::kRegs)));
}

TEST_F(FpUnwinderTest, RandomStacksAlwaysEnd) {
  // Hostile bytes: words that are mostly pointers into the two stacks, zeros and meta types. The
  // per-stack floor rises by at least 16 bytes a step, which bounds every walk.
  std::mt19937_64 rng(16);
  UnwindLimits limits;
  limits.max_frames = 1 << 20;
  for (int round = 0; round < 200; ++round) {
    words_.clear();
    for (uint64_t base : {S, I}) {
      for (uint64_t at = base; at < base + kThreadSize; at += 8) {
        const uint64_t pick = rng() % 8;
        const uint64_t other = (rng() & 1) ? S : I;
        if (pick < 4) {
          const uint64_t offset = rng() % kThreadSize;
          Put(at, other + (pick == 0 ? offset : offset & ~uint64_t{7}));  // mostly aligned
        } else if (pick == 4) {
          Put(at, 0);
        } else if (pick == 5) {
          Put(at, 1 + rng() % 3);
        } else {
          Put(at, rng());
        }
      }
    }
    layout_.has_frame_meta = (round & 1) == 0;
    const uint64_t fp = ((round & 2) ? S : I) + ((rng() % kThreadSize) & ~uint64_t{7});
    UnwindResult r = Run(kLeaf, fp, fp, limits);
    EXPECT_LE(r.frames.size(), 2 * kThreadSize / 16 + 1);
  }
}

}  // namespace
}  // namespace kfreeze
