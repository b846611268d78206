// libFuzzer over the arm64 frame-pointer unwinder (core/unwind/fp_unwinder) with every input
// guest-chosen: two stack ranges (a task stack and an IRQ stack) of the input's bytes, the
// pt_regs layout, the PAC mask, the start registers and the task's stack end; then UnwindArm64
// and UnwindSleepingArm64.
// Invariants (abort on violation): at most max_frames frames; an unbounded walk still ends (no
// frame cap, a step counter aborts past kRunaway); the first frame is the start pc; unwinding is
// deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/unwind/fp_unwinder.h"
#include "core/unwind/stack_memory.h"

namespace kfreeze::fuzz {
namespace {

constexpr uint64_t kTaskStack = 0xffff800080040000ull;
constexpr uint64_t kIrqStack = 0xffff800080008000ull;
constexpr size_t kStackBytes = 16 * 1024;
constexpr size_t kRunaway = 100'000;

#define FUZZ_CHECK(cond)                                                                         \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "fp_unwind_fuzz: invariant failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8() { return at_ < size_ ? data_[at_++] : 0; }
  uint32_t U16() { return U8() | (uint32_t{U8()} << 8); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{U8()} << (8 * i);
    return v;
  }
  // A stack-ish value: an address in one of the two stacks (8-aligned or not), or raw.
  uint64_t Pointer() {
    switch (U8() & 3) {
      case 0:
        return kTaskStack + (U16() % kStackBytes);
      case 1:
        return kIrqStack + (U16() % kStackBytes);
      case 2:
        return kTaskStack + ((U16() % kStackBytes) & ~7u);
      default:
        return U64();
    }
  }
  std::vector<uint8_t> Bytes(size_t n) {
    std::vector<uint8_t> out(n);
    for (size_t i = 0; i < n && at_ < size_; ++i) out[i] = data_[at_++];
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

void CheckResult(const UnwindResult& r, uint64_t start_pc, size_t max_frames, bool user_mode) {
  FUZZ_CHECK(r.frames.size() <= max_frames);
  if (!r.frames.empty() && !user_mode) FUZZ_CHECK(r.frames[0].pc == start_pc);
}

}  // namespace
}  // namespace kfreeze::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze;
  using namespace kfreeze::fuzz;
  Input in(data, size);
  Arm64FrameLayout layout;
  const uint8_t mode = in.U8();
  if (mode & 1) {  // a layout from the input (absurd ones included)
    layout.pt_regs_size = in.U16();
    layout.stackframe_offset = in.U16();
    layout.x29_offset = in.U16();
    layout.sp_offset = in.U16();
    layout.pc_offset = in.U16();
    layout.pstate_offset = in.U16();
  }
  layout.has_frame_meta = (mode & 2) != 0;
  layout.pac_mask = (mode & 4) ? 0xfff0000000000000ull : (mode & 8) ? in.U64() : 0;
  const std::optional<uint64_t> stack_end =
      (mode & 16) ? std::optional<uint64_t>(kTaskStack + kStackBytes) : std::nullopt;
  Arm64StartRegs start{in.U64(), in.Pointer(), in.Pointer(), (mode & 32) != 0, stack_end};
  Arm64CpuContext saved{in.U64(), in.Pointer(), in.Pointer(), stack_end};
  // The stacks: the input's bytes, with a few planted pointers so chains go somewhere.
  std::vector<uint8_t> task = in.Bytes(kStackBytes), irq = in.Bytes(4096);
  for (size_t n = in.U8() % 32; n-- > 0;) {
    const size_t at = (in.U16() % (kStackBytes / 8)) * 8;
    const uint64_t v = in.Pointer();
    for (int i = 0; i < 8; ++i) task[at + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  StackMemory memory;
  memory.Add(kTaskStack, task);
  if (mode & 64) memory.Add(kIrqStack, irq);

  UnwindLimits limits;
  limits.max_frames = (mode & 128) ? 64 : ~size_t{0};
  size_t steps = 0;
  limits.expired = [&steps] {
    FUZZ_CHECK(++steps < kRunaway);
    return false;
  };
  const UnwindResult a = UnwindArm64(memory, start, layout, limits);
  CheckResult(a, start.pc, limits.max_frames, start.user_mode);
  steps = 0;
  const UnwindResult again = UnwindArm64(memory, start, layout, limits);
  FUZZ_CHECK(again.frames.size() == a.frames.size() && again.stop_reason == a.stop_reason);
  steps = 0;
  const UnwindResult s = UnwindSleepingArm64(memory, saved, layout, limits);
  FUZZ_CHECK(s.frames.size() <= limits.max_frames);
  return 0;
}
