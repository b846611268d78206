// Translator and Reader on synthetic page tables: 4/5 levels, 4K/2M/1G leaves, the linear fast
// paths, page-crossing reads, the translation cache and hostile page-table entries.
#include "core/mem/translator.h"

#include <cstring>

#include "core/base/status.h"
#include "core/mem/reader.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;
using testing::k1G;
using testing::k2M;
using testing::k4K;

struct Fixture {
  explicit Fixture(GuestImageOptions o) : builder(o) {}
  void Finish() {
    image.emplace(builder.Build());
    auto opened = GuestRam::OpenFd(image->fd(), RamLayout::Flat(image->truth().ram_bytes));
    EXPECT_TRUE(opened.ok()) << opened.status();
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

struct WalkCase {
  int levels;
  uint64_t direct_leaf;
  uint64_t image_leaf;
};

class WalkTest : public ::testing::TestWithParam<WalkCase> {};

TEST_P(WalkTest, WalkAgreesWithBuilderForEveryKindOfMapping) {
  GuestImageOptions o;
  o.levels = GetParam().levels;
  o.direct_map_leaf = GetParam().direct_leaf;
  o.image_leaf = GetParam().image_leaf;
  o.kaslr_offset = 0x12000000;
  Fixture f(o);
  const Kva vmalloc = f.builder.Alloc(3 * k4K + 100, testing::Placement::kVmalloc);
  const Kva direct = f.builder.Alloc(64);
  f.Finish();
  const std::vector<std::pair<Kva, uint64_t>> cases = {
      {f.image->symbol("_text"), GetParam().image_leaf},
      {f.image->symbol("kallsyms_names") + 5, GetParam().image_leaf},
      {direct + 8, GetParam().direct_leaf},
      {vmalloc, k4K},
      {vmalloc + 2 * k4K + 17, k4K},
  };
  for (const auto& [va, leaf] : cases) {
    absl::StatusOr<Translation> walked = f.translator->Walk(va);
    ASSERT_TRUE(walked.ok()) << Hex(va) << ": " << walked.status();
    EXPECT_EQ(walked->pa, *f.image->Translate(va)) << Hex(va);
    EXPECT_EQ(walked->leaf_bytes, leaf) << Hex(va);
    EXPECT_EQ(walked->contiguous, leaf - (va.value & (leaf - 1)));
  }
  // The linear paths give the same answers as the walk.
  EXPECT_EQ(f.translator->Translate(direct)->path, TranslationPath::kDirectMap);
  EXPECT_EQ(f.translator->Translate(direct)->pa, f.translator->Walk(direct)->pa);
  const Kva text = f.image->symbol("_text");
  EXPECT_EQ(f.translator->Translate(text)->path, TranslationPath::kKernelImage);
  EXPECT_EQ(f.translator->Translate(text)->pa, f.translator->Walk(text)->pa);
  EXPECT_EQ(f.translator->Translate(vmalloc)->path, TranslationPath::kPageWalk);
}

INSTANTIATE_TEST_SUITE_P(Paging, WalkTest,
                         ::testing::Values(WalkCase{4, k1G, k2M}, WalkCase{4, k2M, k4K},
                                           WalkCase{5, k1G, k2M}, WalkCase{5, k2M, k4K}));

TEST(TranslatorTest, UnmappedAndNonCanonicalAddressesFault) {
  Fixture f({});
  const Kva unmapped = f.builder.Unmapped();
  f.Finish();
  absl::StatusOr<Translation> t = f.translator->Translate(unmapped);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(IsFault(t.status()));
  EXPECT_EQ(GetFault(t.status())->address, unmapped.value);
  EXPECT_NE(t.status().message().find("not present"), absl::string_view::npos);
  // Bit 47 clear but upper bits set: not canonical under 4-level paging.
  absl::StatusOr<Translation> nc = f.translator->Translate(Kva(0xff00400000000000ull));
  ASSERT_FALSE(nc.ok());
  EXPECT_NE(nc.status().message().find("non-canonical"), absl::string_view::npos);
  // No root configured: the walk refuses instead of guessing.
  PagingConfig no_root;
  Translator bare(*f.ram, no_root);
  EXPECT_TRUE(IsFault(bare.Translate(unmapped).status()));
}

TEST(TranslatorTest, HostilePageTableEntriesFaultInsteadOfReadingGarbage) {
  Fixture f({});
  const Kva a = f.builder.Alloc(k4K, testing::Placement::kVmalloc);
  const Kva b = f.builder.Alloc(k4K, testing::Placement::kVmalloc);
  const Pa pte_a = f.builder.PageTableEntry(a, 0);
  const Pa pmd_b = f.builder.PageTableEntry(b, 1);
  f.Finish();
  // A PTE pointing far beyond RAM: the translation succeeds, the read faults at that address.
  f.image->PutPhys<uint64_t>(pte_a, 0x00000fff00000000ull | 1);
  Reader reader(*f.translator);
  absl::StatusOr<uint64_t> v = reader.ReadU64(a);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(IsFault(v.status()));
  EXPECT_EQ(GetFault(v.status())->address, a.value);
  // A PMD pointing at a "table" outside RAM.
  f.image->PutPhys<uint64_t>(pmd_b, 0x00000fff00000000ull | 3);
  absl::StatusOr<Translation> t = f.translator->Walk(b);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("outside guest RAM"), absl::string_view::npos);
  // A PMD pointing back at the root (a cycle): the walk is depth-bounded and ends at PTE level
  // with whatever the root holds, never looping.
  f.image->PutPhys<uint64_t>(pmd_b, f.image->truth().root.value | 3);
  absl::StatusOr<Translation> cyc = f.translator->Walk(b);
  if (cyc.ok()) {
    EXPECT_EQ(cyc->leaf_bytes, k4K);
  }
  // The huge-page bit in the PGD is invalid.
  f.image->PutPhys<uint64_t>(f.builder.PageTableEntry(b, 3), 0x80 | 1);
  absl::StatusOr<Translation> huge = f.translator->Walk(b);
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("huge-page bit"), absl::string_view::npos);
}

TEST(ReaderTest, ReadsAcrossNonContiguousPagesAndCaches) {
  Fixture f({});
  const Kva obj = f.builder.Alloc(3 * k4K, testing::Placement::kVmalloc);
  std::vector<uint8_t> pattern(3 * k4K);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 3);
  f.builder.WriteVirt(obj, pattern);
  f.builder.PutString(obj + k4K - 3, "page-crossing");
  pattern.clear();
  f.Finish();
  Reader reader(*f.translator);
  ASSERT_NE(*reader.Translate(obj + k4K), *reader.Translate(obj) + k4K);  // really scattered
  std::vector<uint8_t> got(3 * k4K);
  ASSERT_TRUE(reader.ReadVirt(obj, got).ok());
  EXPECT_EQ(got[k4K - 4], static_cast<uint8_t>((k4K - 4) * 7 + 3));
  EXPECT_EQ(got[2 * k4K + 9], static_cast<uint8_t>((2 * k4K + 9) * 7 + 3));
  EXPECT_EQ(*reader.ReadCString(obj + k4K - 3), "page-crossing");
  EXPECT_EQ(*reader.ReadCharArray(obj + k4K - 3, 4), "page");
  const uint64_t misses = reader.cache_misses();
  ASSERT_TRUE(reader.ReadVirt(obj, got).ok());
  EXPECT_EQ(reader.cache_misses(), misses);
  EXPECT_GT(reader.cache_hits(), 0u);
  reader.ClearCache();
  ASSERT_TRUE(reader.ReadVirt(obj, got).ok());
  EXPECT_GT(reader.cache_misses(), misses);
}

TEST(TranslatorTest, APteTableFromOneWalkTranslatesItsNeighbours) {
  Fixture f({});
  const Kva obj = f.builder.Alloc(3 * k4K, testing::Placement::kVmalloc);
  f.Finish();
  uint64_t table = 0;
  absl::StatusOr<Translation> first = f.translator->Walk(obj, &table);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE(table, 0u);
  for (uint64_t page = 0; page < 3; ++page) {
    const Kva va = obj + page * k4K + 17;
    if ((va.value >> 21) != (obj.value >> 21)) continue;  // another PTE table
    absl::StatusOr<Translation> walked = f.translator->Walk(va);
    absl::StatusOr<Translation> shortcut = f.translator->WalkLastTable(va, table);
    ASSERT_TRUE(walked.ok() && shortcut.ok());
    EXPECT_EQ(shortcut->pa, walked->pa);
    EXPECT_EQ(shortcut->contiguous, walked->contiguous);
  }
  // A linear address leaves no table; a table outside guest RAM is a fault, not a read.
  uint64_t none = 1;
  ASSERT_TRUE(f.translator->Translate(Kva(f.image->truth().page_offset_base), &none).ok());
  EXPECT_EQ(none, 0u);
  EXPECT_FALSE(f.translator->WalkLastTable(obj, 1ull << 50).ok());
}

TEST(ReaderTest, ReadsThatRunIntoUnmappedMemoryFail) {
  Fixture f({});
  const Kva obj = f.builder.Alloc(k4K, testing::Placement::kVmalloc);  // followed by a guard page
  f.builder.WriteVirt(obj + k4K - 4, std::vector<uint8_t>{'a', 'b', 'c', 'd'});
  f.Finish();
  Reader reader(*f.translator);
  absl::StatusOr<uint64_t> v = reader.ReadU64(obj + k4K - 4);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(GetFault(v.status())->address, obj.value + k4K);
  absl::StatusOr<std::string> s = reader.ReadCString(obj + k4K - 4);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(reader.ReadCString(obj + k4K - 4, 4).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(reader.ReadBytes(obj, 1ull << 40).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(IsFault(reader.ReadU64(Kva(~0ull - 3)).status()));
}

TEST(TranslatorTest, DirectMapBeyondRamFaultsInGuestRam) {
  Fixture f({});
  f.Finish();
  Reader reader(*f.translator);
  const Kva past_end(f.image->truth().page_offset_base + f.image->truth().ram_bytes);
  // Outside the direct-map window: walked; the 1G leaf maps it, but the physical page is not RAM.
  absl::StatusOr<uint64_t> v = reader.ReadU64(past_end);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(IsFault(v.status()));
}

}  // namespace
}  // namespace kfreeze
