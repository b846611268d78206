// The sdt_alloc tree walk and the scx_static range over synthetic BTF and arena pages.
#include "core/walkers/sdt/sdt_walk.h"

#include "core/btf/offset_resolver.h"
#include "gtest/gtest.h"
#include "tests/walkers/sdt/sdt_fixture.h"

namespace kfreeze::walkers::sdt {
namespace {

using testing::BuildSdtBtf;
using testing::FakeArena;
using testing::SdtBtf;
using testing::SdtBtfOptions;

constexpr uint64_t kElemSize = 24;  // 8-byte sdt_data header + struct task_ctx (16)

// A 3-level tree: desc/chunk pairs on pages 1-2, 3-4, 5-6; allocations on page 7.
struct Tree {
  SdtBtf btf;
  FakeArena arena;
  std::vector<uint8_t> allocator = std::vector<uint8_t>(40, 0);
  SdtLayout layout;

  explicit Tree(const SdtBtfOptions& o = {}) : btf(BuildSdtBtf(o)) {
    const OffsetResolver r(btf.btf.get());
    absl::StatusOr<SdtLayout> l = ResolveSdtLayout(r);
    EXPECT_TRUE(l.ok()) << l.status();
    if (l.ok()) layout = *l;
    testing::Put64(allocator, 8, kElemSize);  // pool.elem_size
    testing::Put64(allocator, 32, Desc(0));   // root
    for (uint64_t level = 0; level < 3; ++level) {
      arena.Put64(Desc(level) + btf.desc_chunk, Chunk(level));
      arena.Put64(Desc(level) + btf.desc_nr_free, 500);
      if (level < 2) arena.Put64(Chunk(level), Desc(level + 1));  // descs[0]
    }
  }
  static uint64_t Desc(uint64_t level) { return FakeArena::At(1 + 2 * level); }
  static uint64_t Chunk(uint64_t level) { return FakeArena::At(2 + 2 * level); }
  // Allocation `pos` of the leaf: bit set, data[pos] stored, tid and payload written.
  void Allocate(uint32_t pos, int32_t idx, int32_t genn, uint64_t pid, uint64_t weight) {
    SetBit(pos);
    const uint64_t data = FakeArena::At(7, pos * kElemSize);
    arena.Put64(Chunk(2) + pos * 8, data);
    arena.Put64(data, uint64_t(uint32_t(idx)) | uint64_t(uint32_t(genn)) << 32);
    arena.Put64(data + 8, pid);
    arena.Put64(data + 16, weight);
  }
  void SetBit(uint32_t pos) {
    const uint64_t word = Desc(2) + btf.desc_allocated + (pos / 64) * 8;
    uint64_t v = 0;
    (void)arena.Read(word, absl::MakeSpan(reinterpret_cast<uint8_t*>(&v), 8));
    arena.Put64(word, v | uint64_t{1} << (pos % 64));
  }
  kfreeze::v1::SdtAllocatorSnapshot Walk(const SdtWalkCaps& caps = {},
                                         std::function<bool()> expired = nullptr) {
    return WalkSdtAllocator(allocator, layout, ArenaWindow{&arena, testing::kUserVmStart},
                            btf.btf.get(), "task_allocator", caps, expired);
  }
};

uint64_t Member(const kfreeze::v1::RenderedValue& v, int i) {
  return v.struct_().members(i).value().uint().value();
}

TEST(SdtWalk, ListsEveryLiveLeafAllocationWithItsTypedPayload) {
  Tree t;
  t.Allocate(0, 0, 1, 101, 7);
  t.Allocate(3, 3, 2, 103, 9);
  t.SetBit(5);  // bit set, data[5] not stored yet: in flight, not listed
  const auto snap = t.Walk();
  EXPECT_EQ(snap.allocator_name(), "task_allocator");
  EXPECT_EQ(snap.elem_size(), kElemSize);
  EXPECT_EQ(snap.target_type_id(), t.btf.payload_struct);
  EXPECT_EQ(snap.payload_type_reason(), "");
  ASSERT_EQ(snap.entries_size(), 2);
  EXPECT_EQ(snap.entries(0).idx(), 0);
  EXPECT_EQ(snap.entries(0).genn(), 1);
  EXPECT_EQ(snap.entries(0).user_addr(), uint32_t(FakeArena::At(7)));
  EXPECT_EQ(snap.entries(0).payload().struct_().type_name(), "task_ctx");
  EXPECT_EQ(Member(snap.entries(0).payload(), 0), 101u);
  EXPECT_EQ(snap.entries(1).idx(), 3);
  EXPECT_EQ(snap.entries(1).genn(), 2);
  EXPECT_EQ(Member(snap.entries(1).payload(), 1), 9u);
  EXPECT_FALSE(snap.truncated());
  EXPECT_EQ(snap.skipped_subtrees(), 0u);
}

TEST(SdtWalk, MemberOffsetsComeFromTheProgramBtf) {
  Tree t({.desc_chunk_first = true});
  EXPECT_EQ(t.layout.desc_chunk, 0u);
  EXPECT_EQ(t.layout.desc_allocated, 16u);
  t.Allocate(2, 2, 0, 55, 1);
  const auto snap = t.Walk();
  ASSERT_EQ(snap.entries_size(), 1);
  EXPECT_EQ(Member(snap.entries(0).payload(), 0), 55u);
}

TEST(SdtWalk, TreeDepthComesFromSdtTaskLevels) {
  Tree t({.levels = 2});
  // With two levels the level-1 desc is the leaf: its chunk's data[] holds allocations.
  const uint64_t data = FakeArena::At(7);
  t.arena.Put64(Tree::Chunk(1), data);
  t.arena.Put64(Tree::Desc(1) + t.btf.desc_allocated, 1);
  t.arena.Put64(data + 8, 77);
  const auto snap = t.Walk();
  ASSERT_EQ(snap.entries_size(), 1);
  EXPECT_EQ(Member(snap.entries(0).payload(), 0), 77u);
}

TEST(SdtWalk, UninitialisedAllocatorListsNothing) {
  Tree t;
  testing::Put64(t.allocator, 32, 0);
  const auto snap = t.Walk();
  EXPECT_EQ(snap.entries_size(), 0);
  EXPECT_EQ(snap.elem_size(), kElemSize);
}

TEST(SdtWalk, PointersOutsideTheArenaAndUncapturedPagesSkipTheirSubtree) {
  Tree t;
  t.Allocate(0, 0, 0, 1, 1);
  t.arena.Put64(Tree::Chunk(0) + 8, 0xffff888000001000ull);  // descs[1]: a kernel pointer
  t.arena.Put64(Tree::Chunk(0) + 16, FakeArena::At(40));     // descs[2]: a page never captured
  const auto snap = t.Walk();
  EXPECT_EQ(snap.entries_size(), 1);
  EXPECT_EQ(snap.skipped_subtrees(), 2u);
}

TEST(SdtWalk, AbsurdNrFreeSkipsTheNode) {
  Tree t;
  t.Allocate(0, 0, 0, 1, 1);
  t.arena.Put64(Tree::Desc(2) + t.btf.desc_nr_free, 1u << 20);
  const auto snap = t.Walk();
  EXPECT_EQ(snap.entries_size(), 0);
  EXPECT_EQ(snap.skipped_subtrees(), 1u);
}

TEST(SdtWalk, ACycleIsWalkedOnce) {
  Tree t;
  t.Allocate(0, 0, 0, 1, 1);
  // Every slot of the level-1 chunk points back at the root: a hostile, cyclic tree.
  for (uint32_t pos = 0; pos < 512; ++pos) t.arena.Put64(Tree::Chunk(1) + pos * 8, Tree::Desc(0));
  const auto snap = t.Walk();
  EXPECT_EQ(snap.entries_size(), 0);  // the leaf was only reachable through slot 0
  EXPECT_EQ(snap.skipped_subtrees(), 512u);
  EXPECT_FALSE(snap.truncated());
}

TEST(SdtWalk, EntryAndNodeCapsTruncate) {
  Tree t;
  for (uint32_t pos = 0; pos < 10; ++pos) t.Allocate(pos, pos, 0, pos, 0);
  auto snap = t.Walk({.max_entries = 4});
  EXPECT_EQ(snap.entries_size(), 4);
  EXPECT_TRUE(snap.truncated());
  snap = t.Walk({.max_nodes = 2});
  EXPECT_EQ(snap.entries_size(), 0);
  EXPECT_TRUE(snap.truncated());
}

TEST(SdtWalk, DeadlineTruncates) {
  Tree t;
  t.Allocate(0, 0, 0, 1, 1);
  const auto snap = t.Walk({}, [] { return true; });
  EXPECT_EQ(snap.entries_size(), 0);
  EXPECT_TRUE(snap.truncated());
}

TEST(SdtWalk, AbsurdElemSizeIsReportedAndNotRead) {
  Tree t;
  testing::Put64(t.allocator, 8, uint64_t{1} << 40);
  const auto snap = t.Walk();
  EXPECT_EQ(snap.entries_size(), 0);
  EXPECT_NE(snap.payload_type_reason().find("outside"), std::string::npos)
      << snap.payload_type_reason();
}

TEST(SdtWalk, AmbiguousPayloadTypeRendersBytesWithAReason) {
  Tree t({.payload_struct_count = 3});
  t.Allocate(0, 0, 0, 0x11, 0);
  const auto snap = t.Walk();
  // "task_allocator" names its payload "task_ctx": the tie is broken by name.
  EXPECT_EQ(snap.target_type_id(), t.btf.payload_struct);
  const PayloadType none = FindPayloadType(t.btf.btf.get(), 16, "cgrp_allocator");
  EXPECT_EQ(none.type_id, 0u);
  EXPECT_NE(none.reason.find("3 structs of 16 bytes"), std::string::npos) << none.reason;
  const PayloadType missing = FindPayloadType(t.btf.btf.get(), 200, "x");
  EXPECT_NE(missing.reason.find("no struct of 200 bytes"), std::string::npos) << missing.reason;
}

TEST(SdtWalk, MissingMemberNamesItInTheLayoutError) {
  SdtBtf b = BuildSdtBtf({.allocator_has_root = false});
  const OffsetResolver r(b.btf.get());
  absl::StatusOr<SdtLayout> l = ResolveSdtLayout(r);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("root"), std::string::npos) << l.status();
}

TEST(ScxStatic, LiveRangeIsMemoryToOff) {
  SdtBtf b = BuildSdtBtf();
  const OffsetResolver r(b.btf.get());
  absl::StatusOr<ScxStaticLayout> l = ResolveScxStaticLayout(r);
  ASSERT_TRUE(l.ok()) << l.status();
  FakeArena arena;
  const ArenaWindow window{&arena, testing::kUserVmStart};
  std::vector<uint8_t> inst(24, 0);
  testing::Put64(inst, 0, 4 * 4096);
  testing::Put64(inst, 8, FakeArena::At(8));
  testing::Put64(inst, 16, 96);
  kfreeze::v1::ScxStaticRange range;
  ASSERT_TRUE(ReadScxStatic(inst, *l, window, "scx_static", &range));
  EXPECT_EQ(range.instance_name(), "scx_static");
  EXPECT_EQ(range.start_low32(), uint32_t(FakeArena::At(8)));
  EXPECT_EQ(range.size(), 96u);
  EXPECT_EQ(range.capacity(), 4u * 4096);
  testing::Put64(inst, 16, 5 * 4096);  // off past the region
  EXPECT_FALSE(ReadScxStatic(inst, *l, window, "scx_static", &range));
  testing::Put64(inst, 16, 0);
  testing::Put64(inst, 8, 0);  // never initialised
  EXPECT_FALSE(ReadScxStatic(inst, *l, window, "scx_static", &range));
  testing::Put64(inst, 8, FakeArena::At(63));  // region runs past the arena's end
  EXPECT_FALSE(ReadScxStatic(inst, *l, window, "scx_static", &range));
}

}  // namespace
}  // namespace kfreeze::walkers::sdt
