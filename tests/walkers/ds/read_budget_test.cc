// ReadBudget through a Reader: bytes, held memory, nodes and the deadline each end the dump's
// reads with their own reason, and a spent budget stays spent.
#include "core/mem/read_budget.h"

#include "core/ds/list.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze {
namespace {

using testing::FakeGuest;

TEST(ReadBudget, ReadBytesCapEndsEveryLaterRead) {
  FakeGuest g;
  const Kva at = g.Alloc(4096);
  Reader r = g.MakeReader();
  ReadBudget budget({.read_bytes = 100});
  r.SetBudget(&budget);
  EXPECT_TRUE(r.ReadBytes(at, 96).ok());
  EXPECT_TRUE(r.ReadU32(at).ok());  // exactly 100
  absl::StatusOr<uint8_t> over = r.ReadU8(at);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find(kReasonReadBudgetExhausted), std::string::npos);
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kReadBytes);
  EXPECT_EQ(budget.reason(), kReasonReadBudgetExhausted);
  EXPECT_FALSE(r.ReadPhys(Pa(4096), std::span<uint8_t>()).ok());  // stays spent
  EXPECT_EQ(budget.bytes_read(), 100u);
}

TEST(ReadBudget, DeadlineIsCheckedOnTheReadPath) {
  FakeGuest g;
  const Kva at = g.Alloc(64);
  Reader r = g.MakeReader();
  bool time_up = false;
  ReadBudget budget({}, [&] { return time_up; });
  r.SetBudget(&budget);
  EXPECT_TRUE(r.ReadU64(at).ok());
  time_up = true;
  // Within kDeadlineCheckEveryReads reads of the deadline passing, reads fail.
  int ok_reads = 0;
  for (uint32_t i = 0; i <= caps::kDeadlineCheckEveryReads; ++i) ok_reads += r.ReadU64(at).ok();
  EXPECT_LT(ok_reads, static_cast<int>(caps::kDeadlineCheckEveryReads));
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kDeadline);
  EXPECT_EQ(budget.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(r.BudgetExhausted());
}

TEST(ReadBudget, HeldAndNodeBudgets) {
  ReadBudget held({.held_bytes = 1000});
  EXPECT_TRUE(held.ChargeHeld(600));
  held.ReleaseHeld(600);
  EXPECT_TRUE(held.ChargeHeld(1000));
  EXPECT_FALSE(held.ChargeHeld(1));
  EXPECT_EQ(held.reason(), kReasonMemoryBudgetExhausted);
  EXPECT_EQ(held.peak_bytes_held(), 1000u);
  EXPECT_EQ(held.status().code(), absl::StatusCode::kResourceExhausted);

  ReadBudget nodes({.nodes = 3});
  EXPECT_TRUE(nodes.ChargeNodes(3));
  EXPECT_FALSE(nodes.ChargeNodes(1));
  EXPECT_EQ(nodes.reason(), kReasonNodeBudgetExhausted);
  EXPECT_FALSE(nodes.ChargeHeld(1));  // any spent budget ends everything
}

TEST(ReadBudget, NoBudgetMeansUnbounded) {
  FakeGuest g;
  Reader r = g.MakeReader();
  EXPECT_TRUE(r.ChargeHeld(~0ull));
  EXPECT_TRUE(r.ChargeNodes(~0ull));
  EXPECT_FALSE(r.BudgetExhausted());
}

// A list walk stops on a spent budget even when every node is readable.
TEST(ReadBudget, ListWalkStopsWhenSpent) {
  FakeGuest g;
  const Kva head = g.Alloc(16), a = g.Alloc(16);
  g.PutPtr(head, a);
  g.PutPtr(head + 8, a);
  g.PutPtr(a, head);
  g.PutPtr(a + 8, head);
  Reader r = g.MakeReader();
  ReadBudget budget({}, [] { return true; });
  r.SetBudget(&budget);
  ds::ListWalk w = ds::ListForEach(r, head, 100);
  EXPECT_FALSE(w.complete());
  EXPECT_EQ(w.error.code(), absl::StatusCode::kDeadlineExceeded) << w.error;
}

}  // namespace
}  // namespace kfreeze
