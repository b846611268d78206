// What the stacks phase copies while the VM is paused: a sleeping task's stack from its saved SP
// up, a running task's whole stack, each kernel-mode vCPU's stack above its SP — and reasons, not
// copies, for hostile stack pointers.
#include "core/walkers/stacks/stack_copy.h"

#include "core/mem/guest_snapshot.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze::walkers::stacks {
namespace {

using testing::FakeGuest;
using ::testing::HasSubstr;

constexpr uint64_t kThreadSp = 0x28;  // task_struct.thread.sp in these tests

struct World {
  FakeGuest g;
  StackLayout layout;
  Kva stack = g.Alloc(kDefaultThreadSize, kDefaultThreadSize);
  Kva task = g.Alloc(256);
  World() { layout.thread_sp = kThreadSp; }
  tasks::TaskStackRefs Refs(bool running) { return {{{task.value, stack.value, running, 1}}}; }
  // The task sleeps with its SP 512 bytes below the top, a known word there; returns the SP.
  uint64_t Sleep() {
    const uint64_t sp = stack.value + kDefaultThreadSize - 512;
    g.Put<uint64_t>(task + kThreadSp, sp);
    g.Put<uint64_t>(Kva(sp), 0x1122334455667788ull);
    return sp;
  }
};

TEST(CopyTaskStacks, ASleepingTaskIsCopiedFromItsSavedSpToTheTop) {
  World w;
  const uint64_t sp = w.Sleep();
  Reader r = w.g.MakeReader();
  TaskStackCopies copies = CopyTaskStacks(r, w.layout, w.Refs(false));
  ASSERT_EQ(copies.tasks.size(), 1u);
  const TaskStackCopy& c = copies.tasks[0];
  EXPECT_EQ(c.unavailable, "");
  EXPECT_EQ(c.saved_sp, sp);
  EXPECT_EQ(c.kva, sp);
  ASSERT_EQ(c.bytes.size(), 512u);
  EXPECT_EQ(c.bytes[0], 0x88);
  EXPECT_EQ(copies.bytes, 512u);
}

// The copy stage keeps the stack's pages in the snapshot, not a private copy; the decode stage then
// gets the frozen bytes from the snapshot although the guest moved on.
TEST(CopyTaskStacks, TheCopyStageSnapshotsThePagesAndTheDecodeStageReadsThem) {
  World w;
  const uint64_t sp = w.Sleep();
  Reader r = w.g.MakeReader();
  GuestSnapshot snapshot(1 << 20);
  r.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  TaskStackCopies copied = CopyTaskStacks(r, w.layout, w.Refs(false));
  ASSERT_EQ(copied.tasks.size(), 1u);
  EXPECT_EQ(copied.tasks[0].unavailable, "");
  EXPECT_TRUE(copied.tasks[0].bytes.empty());
  EXPECT_EQ(copied.bytes, 512u);  // counted as in the decode stage, so both cap alike

  ASSERT_TRUE(snapshot.Seal().ok());
  w.g.Put<uint64_t>(Kva(sp), 0);  // the guest runs on after `cont`
  r.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  TaskStackCopies decoded = CopyTaskStacks(r, w.layout, w.Refs(false));
  ASSERT_EQ(decoded.tasks[0].bytes.size(), 512u);
  EXPECT_EQ(decoded.tasks[0].bytes[0], 0x88);
}

TEST(CopyTaskStacks, ARunningTaskIsCopiedWhole) {
  World w;
  Reader r = w.g.MakeReader();
  TaskStackCopies copies = CopyTaskStacks(r, w.layout, w.Refs(true));
  ASSERT_EQ(copies.tasks.size(), 1u);
  EXPECT_EQ(copies.tasks[0].kva, w.stack.value);
  EXPECT_EQ(copies.tasks[0].bytes.size(), kDefaultThreadSize);
}

TEST(CopyTaskStacks, ASavedSpOffItsStackIsAReason) {
  World w;
  for (uint64_t sp :
       {uint64_t{0}, w.stack.value - 8, w.stack.value + kDefaultThreadSize - 8, ~uint64_t{0} - 4}) {
    w.g.Put<uint64_t>(w.task + kThreadSp, sp);
    Reader r = w.g.MakeReader();
    TaskStackCopies copies = CopyTaskStacks(r, w.layout, w.Refs(false));
    EXPECT_THAT(copies.tasks[0].unavailable, HasSubstr("outside its stack")) << sp;
    EXPECT_TRUE(copies.tasks[0].bytes.empty());
  }
}

TEST(CopyTaskStacks, HostileStackBasesAreReasons) {
  World w;
  Reader r = w.g.MakeReader();
  tasks::TaskStackRefs refs{{{w.task.value, w.stack.value + 8, true, 0},
                             {w.task.value, ~uint64_t{0} & ~uint64_t{0xfff}, true, 0},
                             {w.task.value, FakeGuest::Unmapped().value, true, 0}}};
  TaskStackCopies copies = CopyTaskStacks(r, w.layout, refs);
  ASSERT_EQ(copies.tasks.size(), 3u);
  EXPECT_THAT(copies.tasks[0].unavailable, HasSubstr("not a kernel stack"));
  EXPECT_THAT(copies.tasks[1].unavailable, HasSubstr("not a kernel stack"));
  EXPECT_THAT(copies.tasks[2].unavailable, HasSubstr("unreadable"));
  EXPECT_EQ(copies.bytes, 0u);
}

TEST(CopyTaskStacks, NoThreadSpOffsetIsAReason) {
  World w;
  w.layout.thread_sp.reset();
  w.layout.missing = "task_struct.thread.sp: not in BTF";
  Reader r = w.g.MakeReader();
  TaskStackCopies copies = CopyTaskStacks(r, w.layout, w.Refs(false));
  EXPECT_EQ(copies.tasks[0].unavailable, "task_struct.thread.sp: not in BTF");
}

// An x86 vCPU as ParseHmpRegisters reads it: kernel mode is CS & 3 == 0.
dump::VcpuRegisters Vcpu(uint32_t index, uint64_t rsp, uint16_t cs) {
  dump::VcpuRegisters r;
  r.cpu_index = index;
  r.sp = rsp;
  r.x86 = dump::X86RegisterFile{};
  r.x86->cs = cs;
  r.kernel_mode = (cs & 3) == 0;
  return r;
}

// An arm64 vCPU: kernel mode is EL != 0.
dump::VcpuRegisters Arm64Vcpu(uint32_t index, uint64_t sp, uint8_t el) {
  dump::VcpuRegisters r;
  r.cpu_index = index;
  r.sp = sp;
  r.arm64 = dump::Arm64RegisterFile{};
  r.arm64->sp = sp;
  r.arm64->el = el;
  r.kernel_mode = el != 0;
  return r;
}

TEST(CopyVcpuStacks, KernelModeVcpusAreCopiedFromTheirSpUp) {
  World w;
  const uint64_t sp = w.stack.value + 0x100;
  std::vector<dump::VcpuRegisters> regs = {Vcpu(0, sp, 0x10), Vcpu(1, sp, 0x33)};
  dump::VcpuRegisters no_full;
  no_full.cpu_index = 2;
  no_full.sp = sp;
  regs.push_back(no_full);
  regs.push_back(Vcpu(3, FakeGuest::Unmapped().value, 0x10));
  Reader r = w.g.MakeReader();
  std::vector<dump::GuestCopy> copies = CopyVcpuStacks(r, regs);
  ASSERT_EQ(copies.size(), 1u);  // user mode, no register file and unmapped SP copy nothing
  EXPECT_EQ(copies[0].cpu_index, 0u);
  EXPECT_EQ(copies[0].kva, sp);
  EXPECT_EQ(copies[0].bytes.size(), kMaxVcpuStackCopy);
}

TEST(CopyVcpuStacks, Arm64VcpusAtEl1AreCopiedAndEl0OnesNot) {
  World w;
  const uint64_t sp = w.stack.value + 0x200;
  Reader r = w.g.MakeReader();
  std::vector<dump::GuestCopy> copies =
      CopyVcpuStacks(r, {Arm64Vcpu(0, sp, 0), Arm64Vcpu(1, sp, 1)});
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].cpu_index, 1u);
  EXPECT_EQ(copies[0].kva, sp);
  EXPECT_EQ(copies[0].bytes.size(), kMaxVcpuStackCopy);
}

TEST(CopyVcpuStacks, AnSpAtTheTopOfTheAddressSpaceEndsWithoutWrapping) {
  World w;
  Reader r = w.g.MakeReader();
  std::vector<dump::GuestCopy> copies = CopyVcpuStacks(r, {Vcpu(0, ~uint64_t{0} - 7, 0x10)});
  EXPECT_TRUE(copies.empty());
}

}  // namespace
}  // namespace kfreeze::walkers::stacks
