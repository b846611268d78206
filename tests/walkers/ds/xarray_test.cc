// XaForEach on hand-built xarrays, including corrupt ones.
#include "core/ds/xarray.h"

#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze::ds {
namespace {

using testing::FakeGuest;

constexpr IdrOffsets kOff = {.xa_head = 8,
                             .idr_base = 16,
                             .node_shift = 0,
                             .node_slots = 24,
                             .chunk_size = 4,
                             .chunk_shift = 2};

Kva Node(FakeGuest& g, uint8_t shift, std::initializer_list<uint64_t> slots) {
  const Kva n = g.Alloc(24 + 8 * kOff.chunk_size, 8);
  g.Put<uint8_t>(n, shift);
  int i = 0;
  for (uint64_t s : slots) g.Put<uint64_t>(n + 24 + 8 * i++, s);
  return n;
}

TEST(XaForEach, TwoLevelsInIndexOrder) {
  FakeGuest g;
  const Kva leaf = Node(g, 0, {0, 0xffff888000001000ull, 0, 0xffff888000002000ull});
  const Kva root = Node(g, 2, {0, 0, leaf.value | 2, 0});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, root.value | 2);
  Reader r = g.MakeReader();
  const XaWalk w = XaForEach(r, idr + 8, kOff, 100);
  ASSERT_EQ(w.entries.size(), 2u);
  EXPECT_EQ(w.entries[0].index, 9u);  // slot 2 of root (2 << 2) + slot 1
  EXPECT_EQ(w.entries[1].index, 11u);
  EXPECT_EQ(w.nodes_visited, 2u);
  EXPECT_EQ(w.errors, 0u);
}

TEST(XaForEach, CycleAndBadShiftAreErrorsNotHangs) {
  FakeGuest g;
  const Kva root = Node(g, 2, {});
  g.Put<uint64_t>(root + 24, root.value | 2);           // slot 0 points back to the root
  const Kva bad = Node(g, 3, {0xffff888000003000ull});  // shift not a multiple of 2
  g.Put<uint64_t>(root + 32, bad.value | 2);
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, root.value | 2);
  Reader r = g.MakeReader();
  const XaWalk w = XaForEach(r, idr + 8, kOff, 100);
  EXPECT_TRUE(w.entries.empty());
  EXPECT_EQ(w.errors, 2u);
  EXPECT_FALSE(w.root_lost);
}

TEST(XaForEach, InternalAndValueEntriesAreSkippedAndCounted) {
  FakeGuest g;
  // A value entry (low bit), a retry entry (internal 256), a real pointer.
  const Kva leaf = Node(g, 0, {0x21, (256 << 2) | 2, 0xffff888000004000ull});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, leaf.value | 2);
  Reader r = g.MakeReader();
  const XaWalk w = XaForEach(r, idr + 8, kOff, 100);
  ASSERT_EQ(w.entries.size(), 1u);
  EXPECT_EQ(w.entries[0].index, 2u);
  EXPECT_EQ(w.skipped_internal, 2u);
}

TEST(XaForEach, UnreadableNodeKeepsTheRestAndUnreadableHeadLosesTheRoot) {
  FakeGuest g;
  const Kva root = Node(g, 2, {FakeGuest::Unmapped().value | 2, 0xffff888000005000ull});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, root.value | 2);
  Reader r = g.MakeReader();
  XaWalk w = XaForEach(r, idr + 8, kOff, 100);
  // Slot 1 at shift 2 holds an object: a multi-index entry starting at index 4.
  ASSERT_EQ(w.entries.size(), 1u);
  EXPECT_EQ(w.entries[0].index, 4u);
  EXPECT_EQ(w.errors, 1u);
  w = XaForEach(r, FakeGuest::Unmapped(), kOff, 100);
  EXPECT_TRUE(w.root_lost);
}

TEST(XaForEach, MaxEntriesTruncates) {
  FakeGuest g;
  const Kva leaf =
      Node(g, 0, {0xffff888000001000ull, 0xffff888000002000ull, 0xffff888000003000ull});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, leaf.value | 2);
  Reader r = g.MakeReader();
  const XaWalk w = XaForEach(r, idr + 8, kOff, 2);
  EXPECT_EQ(w.entries.size(), 2u);
  EXPECT_TRUE(w.truncated);
}

// chunk_size sizes a per-node buffer, so the walk itself refuses one no kernel has, whoever
// built the offsets (a hostile guest BTF can claim 2^31; 2^20 here is as implausible and cheap).
TEST(XaForEach, ImplausibleChunkSizeIsRefusedBeforeAnyNodeIsRead) {
  FakeGuest g;
  const Kva leaf = Node(g, 0, {0xffff888000001000ull, 0, 0, 0});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, leaf.value | 2);
  Reader r = g.MakeReader();
  for (uint32_t chunk : {1u << 20, 48u, 0u, 1u}) {
    IdrOffsets off = kOff;
    off.chunk_size = chunk;
    off.chunk_shift = chunk > 1 ? 20 : 0;
    const XaWalk w = XaForEach(r, idr + 8, off, 100);
    EXPECT_TRUE(w.root_lost) << chunk;
    EXPECT_EQ(w.nodes_visited, 0u) << chunk;
    EXPECT_NE(w.first_error.message().find("xa_node.slots length"), std::string::npos)
        << chunk << ": " << w.first_error;
  }
}

// A spent budget (here the deadline) ends the walk with the budget's status.
TEST(XaForEach, SpentBudgetStopsTheWalk) {
  FakeGuest g;
  const Kva leaf = Node(g, 0, {0xffff888000001000ull, 0, 0xffff888000002000ull, 0});
  const Kva root = Node(g, 2, {leaf.value | 2, leaf.value | 2, 0, 0});
  const Kva idr = g.Alloc(24);
  g.Put<uint64_t>(idr + 8, root.value | 2);
  Reader r = g.MakeReader();
  ReadBudget budget({}, [] { return true; });
  r.SetBudget(&budget);
  const XaWalk w = XaForEach(r, idr + 8, kOff, 100);
  EXPECT_TRUE(w.truncated);
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kDeadline);
  EXPECT_EQ(w.first_error.code(), absl::StatusCode::kDeadlineExceeded) << w.first_error;
}

}  // namespace
}  // namespace kfreeze::ds
