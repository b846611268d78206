// The two stages of a dump on one Reader interface: record copies what the walk reads while the
// guest is frozen; replay serves exactly that, whatever the guest does after `cont`, and names
// what the copy stage never read (or where it was cut) instead of reading live memory.
#include "core/mem/guest_snapshot.h"

#include <vector>

#include "core/base/status.h"
#include "core/mem/read_budget.h"
#include "core/mem/reader.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::k4K;
using testing::Placement;

struct World {
  World() : builder(testing::GuestImageOptions{}) {}
  void Finish() {
    image.emplace(builder.Build());
    auto opened = GuestRam::OpenFd(image->fd(), RamLayout::Flat(image->truth().ram_bytes));
    ASSERT_TRUE(opened.ok()) << opened.status();
    ram = std::move(*opened);
    const PagingConfig c =
        X86_64Paging(image->truth().phys_base, image->truth().page_offset_base,
                     image->truth().ram_bytes, image->truth().root, image->truth().levels);
    translator.emplace(*ram, c);
  }
  GuestImageBuilder builder;
  std::optional<GuestImage> image;
  std::unique_ptr<GuestRam> ram;
  std::optional<Translator> translator;
};

TEST(GuestSnapshotTest, ReplayServesWhatTheCopyStageReadEvenAfterTheGuestChangesIt) {
  World w;
  const Kva obj = w.builder.Alloc(3 * k4K, Placement::kVmalloc);
  w.builder.Put<uint64_t>(obj + k4K - 4, 0x1122334455667788ull);  // straddles two pages
  w.builder.PutString(obj + 2 * k4K + 100, "frozen");
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  Reader copy(*w.translator);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  EXPECT_TRUE(copy.copying());
  ASSERT_EQ(*copy.ReadU64(obj + k4K - 4), 0x1122334455667788ull);
  ASSERT_EQ(*copy.ReadCString(obj + 2 * k4K + 100), "frozen");
  EXPECT_EQ(snapshot.pages(), 3u);  // whole blocks, each once
  EXPECT_EQ(snapshot.bytes(), 3 * GuestSnapshot::kBlockBytes);
  ASSERT_TRUE(snapshot.Seal().ok());  // the window's end

  // The guest runs on and rewrites everything.
  w.image->Put<uint64_t>(obj + k4K - 4, 0);
  w.image->WriteVirt(obj + 2 * k4K + 100, std::vector<uint8_t>{'t', 'h', 'a', 'w', 0});

  Reader replay(*w.translator);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  EXPECT_FALSE(replay.copying());
  EXPECT_EQ(*replay.ReadU64(obj + k4K - 4), 0x1122334455667788ull);
  EXPECT_EQ(*replay.ReadCString(obj + 2 * k4K + 100), "frozen");
  // Bytes of a copied block the walk did not read are there too (whole blocks are copied).
  EXPECT_TRUE(replay.ReadU64(obj + k4K + 8).ok());
  // The translation the copy stage saw is kept, and the frame reads back physically.
  absl::StatusOr<Pa> pa = replay.Translate(obj + k4K);
  ASSERT_TRUE(pa.ok()) << pa.status();
  std::vector<uint8_t> raw(4);
  ASSERT_TRUE(replay.ReadPhys(*pa, raw).ok());
  EXPECT_EQ(raw[0], 0x44);  // the upper half of the value that straddles the pages

  Reader direct(*w.translator);
  EXPECT_EQ(*direct.ReadU64(obj + k4K - 4), 0u);  // the live guest really changed
}

TEST(GuestSnapshotTest, APageTheCopyStageNeverReadIsAFaultNotALiveRead) {
  World w;
  const Kva a = w.builder.Alloc(k4K, Placement::kDirectMap);
  const Kva b = w.builder.Alloc(k4K, Placement::kVmalloc);
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  Reader copy(*w.translator);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  ASSERT_TRUE(copy.ReadU64(a).ok());
  ASSERT_TRUE(snapshot.Seal().ok());
  Reader replay(*w.translator);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  absl::StatusOr<uint64_t> v = replay.ReadU64(b);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(IsFault(v.status())) << v.status();
  EXPECT_NE(v.status().message().find("not copied in the freeze window"), std::string::npos);
  EXPECT_FALSE(replay.Translate(b).ok());
}

TEST(GuestSnapshotTest, AfterACopyStageCutTheDecodeWalkStopsThereForTheSameReason) {
  World w;
  const Kva a = w.builder.Alloc(k4K, Placement::kVmalloc);
  const Kva b = w.builder.Alloc(k4K, Placement::kVmalloc);
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  Reader copy(*w.translator);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  ASSERT_TRUE(copy.ReadU64(a).ok());
  ASSERT_TRUE(snapshot.Seal().ok());
  snapshot.SetCopyCut(absl::DeadlineExceededError("deadline exceeded"));

  ReadBudget budget;
  Reader replay(*w.translator);
  replay.SetBudget(&budget);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  EXPECT_TRUE(replay.ReadU64(a).ok());
  EXPECT_FALSE(replay.BudgetExhausted());
  absl::StatusOr<uint64_t> v = replay.ReadU64(b);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(replay.BudgetExhausted());
  EXPECT_EQ(budget.cut(), ReadBudget::Cut::kCopyStage);
  EXPECT_NE(budget.reason().find("copy stage"), std::string::npos) << budget.reason();
  EXPECT_FALSE(replay.ReadU64(a).ok());  // spent stays spent
}

TEST(GuestSnapshotTest, PrefetchCopiesARegionOnlyInTheCopyStageAndIsBounded) {
  World w;
  const Kva region = w.builder.Alloc(8 * k4K, Placement::kVmalloc);
  for (uint64_t i = 0; i < 8; ++i) w.builder.Put<uint64_t>(region + i * k4K + 16, i + 1);
  w.Finish();
  {
    GuestSnapshot snapshot(1 << 20);
    Reader direct(*w.translator);
    EXPECT_TRUE(direct.Prefetch(region, 8 * k4K).ok());  // no snapshot: nothing to do
    Reader copy(*w.translator);
    copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
    ASSERT_TRUE(copy.Prefetch(region + 100, 8 * k4K - 100).ok());
    EXPECT_EQ(snapshot.pages(), 8u);
    ASSERT_TRUE(snapshot.Seal().ok());
    Reader replay(*w.translator);
    replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
    for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(*replay.ReadU64(region + i * k4K + 16), i + 1);
    // Past the region lies the vmalloc guard page: prefetching it fails like a read.
    EXPECT_FALSE(copy.Prefetch(region, 9 * k4K).ok());
  }
  GuestSnapshot small(3 * k4K);
  Reader copy(*w.translator);
  copy.UseSnapshot(&small, SnapshotMode::kRecord);
  absl::Status s = copy.Prefetch(region, 8 * k4K);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(small.bytes(), 3 * k4K);
}

// The window ends with Seal; a decode stage that runs without it reads nothing live and says so.
TEST(GuestSnapshotTest, ReplayOfAnUnsealedCopyStageIsACutNotALiveRead) {
  World w;
  const Kva a = w.builder.Alloc(k4K, Placement::kDirectMap);
  w.builder.Put<uint64_t>(a, 7);
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  Reader copy(*w.translator);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  ASSERT_EQ(*copy.ReadU64(a), 7u);
  Reader replay(*w.translator);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  absl::StatusOr<uint64_t> v = replay.ReadU64(a);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("not sealed"), std::string::npos) << v.status();
}

// Pages are marked as the walk reads them and copied at the window's end, each once however
// often the walk came back, whatever order it read them in.
TEST(GuestSnapshotTest, EachFrameIsCopiedOnceWhateverTheOrderOfReads) {
  World w;
  const Kva obj = w.builder.Alloc(6 * k4K, Placement::kVmalloc);
  for (uint64_t i = 0; i < 6; ++i) w.builder.Put<uint64_t>(obj + i * k4K, 100 + i);
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  Reader copy(*w.translator);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  for (uint64_t i : {5, 0, 3, 0, 5, 1, 3, 2, 4, 2}) ASSERT_TRUE(copy.ReadU64(obj + i * k4K).ok());
  EXPECT_EQ(snapshot.pages(), 6u);
  ASSERT_TRUE(snapshot.Seal().ok());
  for (uint64_t i = 0; i < 6; ++i) w.image->Put<uint64_t>(obj + i * k4K, 0);
  Reader replay(*w.translator);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  for (uint64_t i = 0; i < 6; ++i) EXPECT_EQ(*replay.ReadU64(obj + i * k4K), 100 + i);
}

// Latency hints change nothing a dump reads or pays: no budget, no pages, no failure, and
// nothing at all in the decode stage.
TEST(GuestSnapshotTest, HintsAndPeeksNeitherChargeNorMarkNorFail) {
  World w;
  const Kva a = w.builder.Alloc(k4K, Placement::kVmalloc);
  w.builder.Put<uint64_t>(a + 8, 0x5151);
  w.Finish();
  GuestSnapshot snapshot(1 << 20);
  ReadBudget budget(BudgetLimits{.read_bytes = 1});
  Reader copy(*w.translator);
  copy.SetBudget(&budget);
  copy.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  copy.Hint(a);
  copy.Hint(a + k4K);  // the vmalloc guard page: unmapped
  EXPECT_EQ(copy.PeekU64(a + 8), 0x5151u);
  EXPECT_EQ(copy.PeekU64(a + 3), std::nullopt);  // unaligned
  EXPECT_EQ(copy.PeekU64(a + k4K), std::nullopt);
  EXPECT_EQ(snapshot.pages(), 0u);
  EXPECT_FALSE(copy.BudgetExhausted());
  ASSERT_TRUE(snapshot.Seal().ok());
  Reader replay(*w.translator);
  replay.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  EXPECT_EQ(replay.PeekU64(a + 8), std::nullopt);
}

// A walk that misses its TLB on every read (a hostile page layout) notes each leaf once, and no
// more leaves than the snapshot could ever hold pages for: memory stays bounded.
TEST(GuestSnapshotTest, LeavesAreNotedOnceEachAndBounded) {
  GuestSnapshot snapshot(2 * GuestSnapshot::kBlockBytes);  // room for 8 leaves
  const uint64_t root = 0x1000, base = 0xffffc90000000000ull;
  for (int round = 0; round < 3; ++round) {
    for (uint64_t i = 0; i < 10; ++i) snapshot.NoteLeaf(root, base + i * k4K, k4K, i * k4K);
  }
  for (uint64_t i = 0; i < 8; ++i)
    EXPECT_EQ(snapshot.FindLeaf(root, base + i * k4K + 5), i * k4K + 5);
  EXPECT_EQ(snapshot.FindLeaf(root, base + 8 * k4K), std::nullopt);
  EXPECT_EQ(snapshot.FindLeaf(root + 1, base), std::nullopt);  // another address space
  snapshot.NoteLeaf(root, base, k4K, 0x77000);                 // a known leaf is still updated
  EXPECT_EQ(snapshot.FindLeaf(root, base), 0x77000u);
  // A 2 MiB leaf covers its whole range.
  GuestSnapshot big(1 << 20);
  big.NoteLeaf(root, base, 1 << 21, 0x40000000);
  EXPECT_EQ(big.FindLeaf(root, base + 0x1234567 % (1 << 21)), 0x40000000u + 0x1234567 % (1 << 21));
}

}  // namespace
}  // namespace kfreeze
