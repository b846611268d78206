// The wire-stable strings are ktstr's, byte for byte; renaming one breaks every consumer.
#include <set>
#include <string>

#include "core/base/reasons.h"
#include "gtest/gtest.h"

namespace kfreeze {
namespace {

TEST(ReasonsTest, ValuesArePinned) {
  EXPECT_EQ(kSchemaSingle, "single");
  EXPECT_EQ(kSchemaDual, "dual");
  EXPECT_EQ(kSchemaDegraded, "degraded");
  EXPECT_EQ(kReasonDegradedRendezvousTimeout,
            "vCPU rendezvous timed out before parked acknowledgement");
  EXPECT_EQ(kReasonDegradedKillDuringRendezvous,
            "vCPU rendezvous aborted by external kill before parked acknowledgement");
  EXPECT_EQ(kSnapshotTagEarlyDegraded, "early-degraded");
  EXPECT_EQ(kSnapshotTagEarlyPreLateDegraded, "early-pre-late-degraded");
  EXPECT_EQ(kSnapshotTagEarlyOnlyLateSuppressed, "early-only-late-suppressed");
  EXPECT_EQ(kSnapshotTagEarlyOnlyLateNeverFired, "early-only-late-never-fired");
  EXPECT_EQ(kReasonNoStructOpsLoaded, "no struct_ops programs loaded");
  EXPECT_EQ(kReasonProgAccessorUnavailable, "prog accessor unavailable");
  EXPECT_EQ(kReasonTaskWalkerZeroTasks, "task walker yielded zero tasks");
  EXPECT_EQ(kReasonNoTaskWalker, "no task walker available");
  EXPECT_EQ(kReasonScxRootNull, "scx_root is NULL (no scheduler attached)");
  EXPECT_EQ(kReasonScxWalkerNoState, "scx walker reached no state");
  EXPECT_EQ(kReasonNoScxWalker, "no scx walker capture");
  EXPECT_EQ(kReasonScxWalkerPartialPrefix, "scx walker partial: missing offset groups ");
  EXPECT_EQ(kReasonNoNumaWalker, "no NUMA walker (host-side walker pending)");
  EXPECT_EQ(kReasonSdtAllocUnalignedUserVm,
            "user_vm_start is not 4 GiB-aligned; low-32 keying disabled");
  EXPECT_EQ(kReasonSdtAllocNoBss, "no scheduler .bss map (or .bss has no program BTF)");
  EXPECT_EQ(kReasonSdtAllocNoArena, "no arena map captured (kern_vm_start unavailable)");
  EXPECT_EQ(kReasonSdtAllocNoType, "scheduler BTF does not declare struct scx_allocator");
  EXPECT_EQ(kReasonSdtAllocNoInstance, "no scx_allocator instance in .bss");
  EXPECT_EQ(kReasonSdtAllocDeadlineExceeded,
            "dump deadline exceeded before sdt_alloc pre-pass could run");
  EXPECT_EQ(kArenaOffsetsUnavailable,
            "arena BTF offsets unavailable (kernel lacks struct bpf_arena?)");
  EXPECT_EQ(kBssLatchTriggered, "triggered");
  EXPECT_EQ(kBssLatchNotTriggered, "not_triggered");
  EXPECT_EQ(kBssLatchOutOfBounds, "out_of_bounds");
  EXPECT_EQ(kBssLatchNotResolved, "not_resolved");
  EXPECT_EQ(kReasonReadBudgetExhausted, "dump read budget exhausted");
  EXPECT_EQ(kReasonMemoryBudgetExhausted, "dump memory budget exhausted");
  EXPECT_EQ(kReasonNodeBudgetExhausted, "dump node budget exhausted");
}

TEST(ReasonsTest, AllDistinctAndNonEmpty) {
  std::set<std::string> seen;
  for (auto s : kAllWireStrings) {
    EXPECT_FALSE(s.empty());
    EXPECT_TRUE(seen.insert(std::string(s)).second) << "duplicate: " << s;
  }
}

}  // namespace
}  // namespace kfreeze
