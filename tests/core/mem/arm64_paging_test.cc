// arm64 page walks on synthetic tables of every granule and VA size (4K/16K/64K; 39..52 bits;
// LPA2 and LPA output addresses), checked against the builder's own map, then hostile entries.
#include <cstring>

#include "core/base/status.h"
#include "core/mem/reader.h"
#include "core/mem/translator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/guest_image.h"

namespace kfreeze {
namespace {

using testing::Arm64ImageOptions;
using testing::GuestImage;
using testing::GuestImageBuilder;
using testing::GuestImageOptions;
using ::testing::HasSubstr;
using testing::k2M;
using testing::k4K;

struct Geometry {
  const char* name;
  Arm64ImageOptions arm64;
  int levels;
};

Arm64ImageOptions Arm64(int page_shift, int va_bits) {
  return Arm64ImageOptions::Granule(page_shift, va_bits);
}

std::vector<Geometry> Geometries() {
  std::vector<Geometry> g = {
      {"4k_39", Arm64(12, 39), 3},  {"4k_48", Arm64(12, 48), 4},  {"4k_52_lpa2", Arm64(12, 52), 5},
      {"16k_47", Arm64(14, 47), 3}, {"16k_48", Arm64(14, 48), 4}, {"16k_52_lpa2", Arm64(14, 52), 4},
      {"64k_42", Arm64(16, 42), 2}, {"64k_48", Arm64(16, 48), 3},
  };
  Arm64ImageOptions on48 = Arm64(12, 52);  // a 52-bit kernel on a CPU without LPA2
  on48.walk_va_bits = 48;
  g.push_back({"4k_52_on_48", on48, 4});
  Arm64ImageOptions lpa = Arm64(16, 52);
  lpa.lpa_64k = true;
  g.push_back({"64k_52_lpa", lpa, 3});
  // Output addresses above 2^50 (LPA2 bits [9:8]) and above 2^48 (LPA bits [15:12]).
  Arm64ImageOptions high = Arm64(12, 52);
  high.ram_base = 0xc000000000000ull;
  g.push_back({"4k_52_ram_above_2_50", high, 5});
  Arm64ImageOptions high64 = lpa;
  high64.ram_base = 0x3000000000000ull;
  g.push_back({"64k_52_ram_above_2_48", high64, 3});
  Arm64ImageOptions blocks = Arm64(12, 48);
  blocks.linear_leaf = k2M;
  blocks.linear_offset = 0x3f400000000ull;  // randomized linear map
  g.push_back({"4k_48_linear_2m_blocks_randomized", blocks, 4});
  return g;
}

GuestImageOptions ImageOptions(const Arm64ImageOptions& a) {
  GuestImageOptions o;
  o.arch = GuestArch::kArm64;
  o.arm64 = a;
  o.kaslr_offset = 0x12e000000ull;  // fits the 39-bit layout too
  return o;
}

struct Fixture {
  explicit Fixture(const Arm64ImageOptions& a) : builder(ImageOptions(a)), arm64(a) {}
  void Finish() {
    image.emplace(builder.Build());
    const testing::GuestImageTruth& t = image->truth();
    auto opened = GuestRam::OpenFd(
        image->fd(), *RamLayout::Parse(image->attach_options().ram_layout, t.ram_bytes));
    ASSERT_TRUE(opened.ok()) << opened.status();
    ram = std::move(*opened);
    const int walk_bits = arm64.WalkVaBits();
    auto format = Arm64PageTables(
        {arm64.page_shift, walk_bits, arm64.page_shift == 16 ? arm64.lpa_64k : walk_bits == 52});
    ASSERT_TRUE(format.ok()) << format.status();
    PagingConfig c;
    c.format = *format;
    c.root = t.root;
    translator.emplace(*ram, c);
  }
  GuestImageBuilder builder;
  Arm64ImageOptions arm64;
  std::optional<GuestImage> image;
  std::unique_ptr<GuestRam> ram;
  std::optional<Translator> translator;
};

class Arm64WalkTest : public ::testing::TestWithParam<Geometry> {};

TEST_P(Arm64WalkTest, WalkAgreesWithTheBuilderEverywhere) {
  Fixture f(GetParam().arm64);
  const Kva vmalloc = f.builder.Alloc(3 * 65536 + 100, testing::Placement::kVmalloc);
  const Kva direct = f.builder.Alloc(64);
  f.Finish();
  ASSERT_EQ(f.translator->config().format->levels(), GetParam().levels);
  const uint64_t page = 1ull << GetParam().arm64.page_shift;
  const uint64_t linear_leaf = GetParam().arm64.linear_leaf ? GetParam().arm64.linear_leaf : page;
  const std::vector<std::pair<Kva, uint64_t>> cases = {
      {f.image->symbol("_text"), page},
      {f.image->symbol("kallsyms_names") + 5, page},
      {f.image->symbol("swapper_pg_dir"), page},
      {direct + 8, linear_leaf},
      {vmalloc, page},
      {vmalloc + 2 * 65536 + 17, page},
  };
  for (const auto& [va, leaf] : cases) {
    absl::StatusOr<Translation> walked = f.translator->Walk(va);
    ASSERT_TRUE(walked.ok()) << Hex(va) << ": " << walked.status();
    EXPECT_EQ(walked->pa, *f.image->Translate(va)) << Hex(va);
    EXPECT_EQ(walked->leaf_bytes, leaf) << Hex(va);
  }
  // A Reader (with its caches) reads what the builder wrote, across physically scattered pages.
  std::vector<uint8_t> pattern(2 * 65536 + 64);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 3);
  f.image->WriteVirt(vmalloc + 40, pattern);
  Reader reader(*f.translator);
  for (int pass = 0; pass < 2; ++pass) {  // the second pass hits the translation caches
    std::vector<uint8_t> got(pattern.size());
    ASSERT_TRUE(reader.ReadVirt(vmalloc + 40, got).ok());
    EXPECT_EQ(got, pattern);
  }
  EXPECT_GT(reader.cache_hits(), 0u);
  // Past the last vmalloc page: nothing maps it.
  EXPECT_TRUE(IsFault(f.translator->Walk(f.builder.Unmapped()).status()));
}

INSTANTIATE_TEST_SUITE_P(Geometries, Arm64WalkTest, ::testing::ValuesIn(Geometries()),
                         [](const ::testing::TestParamInfo<Geometry>& info) {
                           return std::string(info.param.name);
                         });

TEST(Arm64PageTablesTest, RefusesGeometriesNoHardwareWalks) {
  EXPECT_FALSE(Arm64PageTables({13, 48, false}).ok());  // no 8K granule
  EXPECT_FALSE(Arm64PageTables({12, 53, true}).ok());   // more than 52 bits
  EXPECT_FALSE(Arm64PageTables({12, 20, false}).ok());  // less than one full level
  EXPECT_FALSE(Arm64PageTables({12, 52, false}).ok());  // 52-bit with 4K needs LPA2
  EXPECT_TRUE(Arm64PageTables({16, 52, false}).ok());   // 64K LVA without LPA is legal
  EXPECT_EQ((*Arm64PageTables({12, 52, true}))->Describe(),
            "arm64, 4K granule, 52-bit VA, 5 levels, LPA2");
}

// One vmalloc page and its entries, corrupted one way per test.
struct Hostile : Fixture {
  Hostile() : Fixture(Arm64(12, 48)) {
    page = builder.Alloc(k4K, testing::Placement::kVmalloc);
    pte = builder.PageTableEntry(page, 0);
    pmd = builder.PageTableEntry(page, 1);
    Finish();
  }
  std::string FaultOf(Kva va) {
    absl::StatusOr<Translation> t = translator->Walk(va);
    EXPECT_FALSE(t.ok()) << Hex(va) << " -> " << (t.ok() ? Hex(t->pa) : "");
    EXPECT_TRUE(t.ok() || IsFault(t.status())) << t.status();
    return t.ok() ? "" : std::string(t.status().message());
  }
  uint64_t Entry(Pa at) { return ram->ReadU64(at).value_or(0); }
  Kva page;
  Pa pte, pmd;
};

TEST(Arm64HostileTest, InvalidAndReservedDescriptorsFault) {
  Hostile h;
  const uint64_t good = h.Entry(h.pte);
  h.image->PutPhys<uint64_t>(h.pte, good & ~1ull);
  EXPECT_THAT(h.FaultOf(h.page), HasSubstr("level 3 entry invalid"));
  h.image->PutPhys<uint64_t>(h.pte, (good & ~3ull) | 1);  // a "block" at the last level
  EXPECT_THAT(h.FaultOf(h.page), HasSubstr("reserved descriptor"));
}

TEST(Arm64HostileTest, TablesOutsideRamAndForbiddenBlocksFault) {
  Hostile h;
  // The level-2 entry points its table far outside RAM.
  h.image->PutPhys<uint64_t>(h.pmd, 0x0000fff000000000ull | 3);
  EXPECT_THAT(h.FaultOf(h.page), HasSubstr("outside guest RAM"));
  // A block at the top level of 4K/48-bit tables (512 GiB) needs LPA2.
  Hostile top;
  const Pa pgd = top.builder.PageTableEntry(top.page, 3);
  top.image->PutPhys<uint64_t>(pgd, (top.Entry(pgd) & ~3ull) | 1);
  EXPECT_THAT(top.FaultOf(top.page), HasSubstr("block descriptor at level 0"));
}

TEST(Arm64HostileTest, AddressesOutsideTtbr1AndLeavesBeyondRamFault) {
  Hostile h;
  EXPECT_THAT(h.FaultOf(Kva(0x0000400000001000ull)), HasSubstr("not a TTBR1 address"));
  EXPECT_THAT(h.FaultOf(Kva(0xfff0800000001000ull)), HasSubstr("not a TTBR1 address"));
  // A page descriptor whose output address is past RAM: the walk translates, the read faults.
  h.image->PutPhys<uint64_t>(h.pte, (h.Entry(h.pte) & 0xfff0000000000fffull) | 0xff00000000ull);
  Reader reader(*h.translator);
  absl::StatusOr<uint64_t> v = reader.ReadU64(h.page);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(IsFault(v.status()));
}

TEST(Arm64HostileTest, ShareabilityBitsAreNotAddressBitsWithoutLpa2) {
  // Every entry the builder writes for 4K/48 carries SH = 0b11 in bits [9:8]; with LPA2 those
  // would be PA[51:50]. The walk of a page must land inside RAM, not 3 << 50 above it.
  Hostile h;
  EXPECT_EQ(h.Entry(h.pte) & (3ull << 8), 3ull << 8);
  absl::StatusOr<Translation> t = h.translator->Walk(h.page);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->pa, *h.image->Translate(h.page));
}

TEST(Arm64HostileTest, ACycleInTheTablesEndsAtTheLastLevel) {
  // A level-1 entry pointing back at the root table: the walk is bounded by the level count and
  // ends in a fault or a translation, never a loop.
  Hostile h;
  h.image->PutPhys<uint64_t>(h.pmd, h.image->truth().root.value | 3);
  absl::StatusOr<Translation> t = h.translator->Walk(h.page);
  if (!t.ok()) {
    EXPECT_TRUE(IsFault(t.status())) << t.status();
  }
}

}  // namespace
}  // namespace kfreeze
