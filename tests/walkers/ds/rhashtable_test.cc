#include "core/ds/rhashtable.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::ds {
namespace {

using testing::FakeGuest;
using testing::TestBtf;

// Layouts deliberately unlike the kernel's, so hard-coded offsets would fail.
RhashtableOffsets Offsets() {
  TestBtf b;
  b.Struct("rhash_head", 16, {{"pad", "u64", 0}, {"next", "ptr", 8}});
  b.Struct("bucket_table", 96,
           {{"nest", "u32", 0},
            {"size", "u32", 8},
            {"future_tbl", "ptr", 24},
            {"buckets", "ptr[0]", 64}});
  b.Struct("rhashtable", 64, {{"nelems", "s32", 4}, {"tbl", "ptr", 16}});
  auto r = b.MakeResolver();
  Group<RhashtableOffsets> off = ResolveRhashtableOffsets(*r);
  if (!off.ok()) ADD_FAILURE() << off.status;
  return *off;
}

class RhashtableTest : public ::testing::Test {
 protected:
  // An object with its rhash_head at offset 0 of a 32-byte allocation.
  Kva NewObject() { return g_.Alloc(32); }

  Kva NewTable(uint32_t size, uint32_t nest = 0) {
    Kva t = g_.Alloc(off_.tbl_buckets + uint64_t{size} * 8);
    g_.Put<uint32_t>(t + off_.tbl_size, size);
    g_.Put<uint32_t>(t + off_.tbl_nest, nest);
    return t;
  }
  uint64_t Nulls(uint32_t bucket) { return (uint64_t{bucket} << 1) | 1; }

  // Chains `objs` into bucket `i` of flat table `t`, terminated by a nulls marker.
  void Chain(Kva t, uint32_t i, const std::vector<Kva>& objs, bool locked = false) {
    Kva slot = t + off_.tbl_buckets + uint64_t{i} * 8;
    for (size_t k = 0; k < objs.size(); ++k) {
      uint64_t next = k + 1 < objs.size() ? objs[k + 1].value : Nulls(i);
      g_.Put<uint64_t>(objs[k] + off_.head_next, next);
    }
    uint64_t first = objs.empty() ? 0 : objs[0].value;
    g_.Put<uint64_t>(slot, first | (locked ? 1 : 0));
  }

  Kva NewHashtable(Kva tbl, int32_t nelems) {
    Kva ht = g_.Alloc(64);
    g_.PutPtr(ht + off_.ht_tbl, tbl);
    g_.Put<int32_t>(ht + off_.ht_nelems, nelems);
    return ht;
  }

  FakeGuest g_;
  RhashtableOffsets off_ = Offsets();
};

TEST_F(RhashtableTest, FlatTableAllBucketsAndLockBit) {
  Kva t = NewTable(4);
  Kva a = NewObject(), b = NewObject(), c = NewObject();
  Chain(t, 0, {a, b});
  Chain(t, 3, {c}, /*locked=*/true);
  Kva ht = NewHashtable(t, 3);
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, ht, off_);
  EXPECT_TRUE(w.root_ok);
  EXPECT_TRUE(w.first_error.ok()) << w.first_error;
  EXPECT_EQ(w.heads, (std::vector<Kva>{a, b, c}));
  EXPECT_EQ(w.tables, 1u);
  EXPECT_FALSE(w.resizing);
  EXPECT_EQ(w.nelems, 3);
}

TEST_F(RhashtableTest, ResizingTableWalksFutureTblAndDedupes) {
  // Mid-rehash: `a` already moved to the new table, `b` still in the old one, `c` linked into
  // the new table while still reachable from the old bucket (rhashtable_rehash_one's window).
  Kva old_t = NewTable(2);
  Kva new_t = NewTable(4);
  g_.PutPtr(old_t + off_.tbl_future_tbl, new_t);
  Kva a = NewObject(), b = NewObject(), c = NewObject();
  Chain(new_t, 1, {a});
  Chain(new_t, 2, {c});
  Chain(old_t, 0, {b, c});
  g_.Put<uint64_t>(c + off_.head_next, Nulls(2));  // c's next already points into new_t's chain
  Kva ht = NewHashtable(old_t, 3);
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, ht, off_);
  EXPECT_TRUE(w.resizing);
  EXPECT_EQ(w.tables, 2u);
  std::vector<Kva> got = w.heads;
  std::sort(got.begin(), got.end());
  std::vector<Kva> want = {a, b, c};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST_F(RhashtableTest, FutureTblCycleIsCapped) {
  Kva t1 = NewTable(1), t2 = NewTable(1);
  g_.PutPtr(t1 + off_.tbl_future_tbl, t2);
  g_.PutPtr(t2 + off_.tbl_future_tbl, t1);
  Kva ht = NewHashtable(t1, 0);
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, ht, off_);
  EXPECT_EQ(w.tables, 2u);
  EXPECT_TRUE(w.truncated);
}

TEST_F(RhashtableTest, ChainCycleAndChainCap) {
  Kva t = NewTable(2);
  Kva a = NewObject(), b = NewObject();
  Chain(t, 0, {a, b});
  g_.PutPtr(b + off_.head_next, a);  // b -> a -> b ...
  std::vector<Kva> many;
  for (int i = 0; i < 10; ++i) many.push_back(NewObject());
  Chain(t, 1, many);
  Kva ht = NewHashtable(t, 12);
  Reader r = g_.MakeReader();
  RhashtableLimits limits;
  limits.max_chain = 5;
  RhashtableWalk w = RhashtableForEach(r, ht, off_, limits);
  EXPECT_TRUE(w.truncated);
  EXPECT_EQ(w.heads.size(), 2u + 5u);
}

TEST_F(RhashtableTest, ObjectCap) {
  Kva t = NewTable(1);
  std::vector<Kva> many;
  for (int i = 0; i < 10; ++i) many.push_back(NewObject());
  Chain(t, 0, many);
  Kva ht = NewHashtable(t, 10);
  Reader r = g_.MakeReader();
  RhashtableLimits limits;
  limits.max_objects = 4;
  RhashtableWalk w = RhashtableForEach(r, ht, off_, limits);
  EXPECT_TRUE(w.truncated);
  EXPECT_EQ(w.heads.size(), 4u);
}

TEST_F(RhashtableTest, UnreadableChainLinkIsCountedAndWalkGoesOn) {
  Kva t = NewTable(2);
  Kva a = NewObject(), c = NewObject();
  Chain(t, 0, {a});
  g_.PutPtr(a + off_.head_next, FakeGuest::Unmapped());  // a -> garbage (even, not a marker)
  Chain(t, 1, {c});
  Kva ht = NewHashtable(t, 2);
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, ht, off_);
  EXPECT_EQ(w.unreadable_buckets, 1u);
  EXPECT_FALSE(w.first_error.ok());
  EXPECT_EQ(w.heads.size(), 3u);  // a, the unmapped one (recorded before its read), c
  EXPECT_EQ(w.heads.back(), c);
}

TEST_F(RhashtableTest, NestedTable) {
  // size 4096 with nest 3: top level 8 slots, each pointing to a 512-slot page of buckets.
  const uint32_t size = 4096, nest = 3;
  Kva t = NewTable(1, nest);
  g_.Put<uint32_t>(t + off_.tbl_size, size);
  Kva top = g_.Alloc(8 * 8);
  g_.PutPtr(t + off_.tbl_buckets, top);
  Kva leaf = g_.Alloc(512 * 8);
  g_.PutPtr(top + 5 * 8, leaf);  // only slot 5 allocated
  // hash = subhash << nest | index  -> bucket 7 of leaf is hash (7 << 3) | 5 = 61.
  Kva a = NewObject();
  g_.Put<uint64_t>(a + off_.head_next, Nulls(61));
  g_.PutPtr(leaf + 7 * 8, a);
  Kva ht = NewHashtable(t, 1);
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, ht, off_);
  EXPECT_TRUE(w.first_error.ok()) << w.first_error;
  EXPECT_EQ(w.heads, std::vector<Kva>{a});
}

TEST_F(RhashtableTest, UnreadableRoot) {
  Reader r = g_.MakeReader();
  RhashtableWalk w = RhashtableForEach(r, FakeGuest::Unmapped(), off_);
  EXPECT_FALSE(w.root_ok);
  EXPECT_FALSE(w.first_error.ok());
}

TEST(RhashtableOffsetsTest, MissingMemberNamesTheGroup) {
  TestBtf b;
  b.Struct("rhash_head", 8, {{"next", "ptr", 0}});
  b.Struct("bucket_table", 64, {{"size", "u32", 0}, {"buckets", "ptr[0]", 64}});
  b.Struct("rhashtable", 64, {{"tbl", "ptr", 0}, {"nelems", "s32", 8}});
  auto r = b.MakeResolver();
  Group<RhashtableOffsets> off = ResolveRhashtableOffsets(*r);
  ASSERT_FALSE(off.ok());
  EXPECT_NE(off.status.message().find("rhashtable"), std::string::npos) << off.status;
  EXPECT_NE(off.status.message().find("nest"), std::string::npos) << off.status;
}

}  // namespace
}  // namespace kfreeze::ds
