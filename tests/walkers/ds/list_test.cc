#include "core/ds/list.h"

#include <vector>

#include "core/base/status.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze::ds {
namespace {

using testing::FakeGuest;

// Builds a well-formed circular list: head <-> n[0] <-> ... <-> n[k-1] <-> head.
std::vector<Kva> MakeList(FakeGuest& g, Kva head, size_t k) {
  std::vector<Kva> nodes;
  for (size_t i = 0; i < k; ++i) nodes.push_back(g.Alloc(16));
  std::vector<Kva> ring = {head};
  ring.insert(ring.end(), nodes.begin(), nodes.end());
  for (size_t i = 0; i < ring.size(); ++i) {
    g.PutPtr(ring[i] + kListNextOffset, ring[(i + 1) % ring.size()]);
    g.PutPtr(ring[i] + kListPrevOffset, ring[(i + ring.size() - 1) % ring.size()]);
  }
  return nodes;
}

TEST(ListForEach, WalksAllNodesInOrder) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 5);
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.nodes, nodes);
  EXPECT_EQ(w.broken_back_links, 0u);
}

TEST(ListForEach, EmptyList) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  MakeList(g, head, 0);
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_TRUE(w.complete());
  EXPECT_TRUE(w.nodes.empty());
}

TEST(ListForEach, CycleNotThroughHeadIsDetected) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 4);
  g.PutPtr(nodes[3], nodes[1]);  // n3 -> n1: never returns to head
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_TRUE(w.cycle);
  EXPECT_FALSE(w.complete());
  EXPECT_EQ(w.nodes.size(), 4u);
}

TEST(ListForEach, CapTruncates) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 10);
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 3);
  EXPECT_TRUE(w.truncated);
  ASSERT_EQ(w.nodes.size(), 3u);
  EXPECT_EQ(w.nodes[2], nodes[2]);
  // Exactly at the cap is not a truncation.
  ListWalk exact = ListForEach(r, head, 10);
  EXPECT_TRUE(exact.complete());
}

TEST(ListForEach, UnmappedNextStopsWithFault) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 3);
  g.PutPtr(nodes[1], FakeGuest::Unmapped());
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_TRUE(IsFault(w.error)) << w.error;  // the unmapped next pointer, not a count or loop check
  EXPECT_EQ(w.nodes.size(), 2u);
}

TEST(ListForEach, NullNextIsAnError) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 2);
  g.PutPtr(nodes[1], Kva(0));
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_EQ(w.error.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(w.nodes.size(), 2u);
}

TEST(ListForEach, TornBackLinkIsCounted) {
  FakeGuest g;
  Kva head = g.Alloc(16);
  std::vector<Kva> nodes = MakeList(g, head, 3);
  g.PutPtr(nodes[2] + kListPrevOffset, head);  // half-done list_del of nodes[1]
  Reader r = g.MakeReader();
  ListWalk w = ListForEach(r, head, 100);
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.broken_back_links, 1u);
}

}  // namespace
}  // namespace kfreeze::ds
