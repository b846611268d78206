// ModuleMap on synthetic guests of both text layouts: text ranges, kallsyms symbols and the
// kernel's symbol-size rule, ORC references, corrupt modules kept with a reason, fingerprints.
#include "core/kernel/modules.h"

#include "core/base/guest_text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/core/kernel/code_map_world.h"

namespace kfreeze {
namespace {

using testing::CodeMapWorld;
using ::testing::HasSubstr;
using testing::ModSpec;

constexpr uint64_t kExt4 = 0xffffffffc0a00000ull;
constexpr uint64_t kXfs = 0xffffffffc0b00000ull;
constexpr uint64_t kXfsInit = 0xffffffffc0c00000ull;

ModSpec Ext4(uint32_t orcs = 0) {
  ModSpec m;
  m.name = "ext4";
  m.text_base = kExt4;
  m.text_size = 0x10000;
  m.num_orcs = orcs;
  m.syms = {
      {"ext4_map_blocks", kExt4 + 0x100, 0x5f0, 't'},
      {"ext4_alias", kExt4 + 0x100, 0, 'T'},  // alias later in symtab: the first one wins
      {"$x", kExt4 + 0x200, 0, 't'},          // mapping symbol: ignored
      {"", kExt4 + 0x300, 0, 't'},            // unnamed: ignored
      {"ext4_undef", kExt4 + 0x400, 0, 'U', 0},
      {"ext4_next", kExt4 + 0x6f0, 0x50, 't'},
      {"ext4_last", kExt4 + 0x800, 0x20, 'T'},
      {"ext4_data", 0xffffffffc0a80000ull, 8, 'd'},  // outside text: not kept
  };
  return m;
}

ModSpec Xfs() {
  ModSpec m;
  m.name = "xfs";
  m.text_base = kXfs;
  m.text_size = 0x8000;
  m.init_base = kXfsInit;
  m.init_size = 0x1000;
  m.state = 1;  // MODULE_STATE_COMING: init text still there
  m.syms = {{"xfs_init_fs", kXfsInit + 0x10, 0x40, 't'}, {"xfs_iget", kXfs + 0x40, 0x100, 't'}};
  return m;
}

class ModuleLayoutTest : public ::testing::TestWithParam<CodeMapWorld::Layout> {};

TEST_P(ModuleLayoutTest, ReadsTextSymbolsAndSizesInBothLayouts) {
  CodeMapWorld w(GetParam());
  const Kva ext4 = w.AddModule(Ext4());
  w.AddModule(Xfs());
  Reader r = w.reader();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->modules().size(), 2u);
  EXPECT_TRUE(map->problems().empty());

  const GuestModule& m = map->modules()[0];
  EXPECT_EQ(m.kva, ext4.value);
  EXPECT_EQ(m.name, "ext4");
  EXPECT_EQ(m.state_name, "live");
  EXPECT_EQ(m.text_begin, kExt4);
  EXPECT_EQ(m.text_end, kExt4 + 0x10000);
  EXPECT_EQ(m.init_text_begin, 0u);
  EXPECT_TRUE(m.usable()) << m.skip_reason;
  EXPECT_EQ(m.symbols_unavailable, "");
  std::vector<std::string> names;
  for (const ModuleSymbol& s : m.symbols) names.emplace_back(m.SymbolName(s));
  EXPECT_EQ(names,
            (std::vector<std::string>{"ext4_map_blocks", "ext4_alias", "ext4_next", "ext4_last"}));
  EXPECT_EQ(m.symbols[0].elf_size, 0x5f0u);
  EXPECT_EQ(m.symbols[0].type, 't');
  EXPECT_EQ(m.symbols[1].type, 'T');

  EXPECT_EQ(map->Find(kExt4 + 0x11c), &m);
  std::optional<ModuleSymbolHit> hit = ModuleMap::Symbolize(m, kExt4 + 0x11c);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->name, "ext4_map_blocks");
  EXPECT_EQ(hit->offset, 0x1cu);
  EXPECT_EQ(hit->size, 0x5f0u);  // up to ext4_next: mapping/unnamed/undefined symbols ignored
  hit = ModuleMap::Symbolize(m, kExt4 + 0x900);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->name, "ext4_last");
  EXPECT_EQ(hit->size, 0xf800u);                        // the last symbol ends with the text
  EXPECT_FALSE(ModuleMap::Symbolize(m, kExt4 + 0x10));  // before the first symbol
  EXPECT_EQ(map->Find(kExt4 + 0x10000), nullptr);
  EXPECT_EQ(map->Find(kExt4 - 1), nullptr);

  const GuestModule& x = map->modules()[1];
  EXPECT_EQ(x.state_name, "coming");
  EXPECT_EQ(x.init_text_begin, kXfsInit);
  EXPECT_EQ(x.init_text_end, kXfsInit + 0x1000);
  EXPECT_EQ(map->Find(kXfsInit + 0x20), &x);
  hit = ModuleMap::Symbolize(x, kXfsInit + 0x20);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->name, "xfs_init_fs");
  EXPECT_EQ(hit->size, 0xff0u);  // to the end of init text
}

INSTANTIATE_TEST_SUITE_P(ModuleTextLayouts, ModuleLayoutTest,
                         ::testing::Values(CodeMapWorld::Layout::kMem,
                                           CodeMapWorld::Layout::kCoreLayout),
                         [](const auto& info) {
                           return info.param == CodeMapWorld::Layout::kMem ? "mem" : "core_layout";
                         });

TEST(ModuleMapTest, OrcRefsPresentAbsentAndWithoutBtf) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddModule(Ext4(/*orcs=*/123));
  w.AddModule(Xfs());
  Reader r = w.reader();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_TRUE(map->modules()[0].orc);
  EXPECT_EQ(map->modules()[0].orc->count, 123u);
  EXPECT_NE(map->modules()[0].orc->ip_table_kva, 0u);
  EXPECT_NE(map->modules()[0].orc->orc_table_kva, 0u);
  EXPECT_FALSE(map->modules()[1].orc);
  EXPECT_EQ(map->modules()[1].orc_unavailable, "module has no ORC tables");

  CodeMapWorld old(CodeMapWorld::Layout::kCoreLayout);  // no mod_arch_specific in its BTF
  old.AddModule(Ext4());
  Reader r2 = old.reader();
  map = ModuleMap::Read(r2, *old.symbols, *old.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_FALSE(map->modules()[0].orc);
  EXPECT_THAT(map->modules()[0].orc_unavailable, HasSubstr("CONFIG_UNWINDER_ORC"));
}

TEST(ModuleMapTest, CorruptModulesAreKeptWithAReasonAndNeverMatched) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddModule(Ext4());
  ModSpec bad_symtab = Xfs();
  bad_symtab.name = "bad_symtab";
  const Kva bs = w.AddModule(bad_symtab);
  w.g.PutPtr(w.KallsymsOf(bs), testing::FakeGuest::Unmapped());
  ModSpec absurd = Xfs();
  absurd.name = "absurd";
  absurd.text_base = 0xffffffffc0d00000ull;
  absurd.init_base = 0;
  const Kva ab = w.AddModule(absurd);
  w.g.Put<uint32_t>(w.KallsymsOf(ab) + 8, 50'000'000);
  ModSpec unformed = Xfs();
  unformed.name = "unformed";
  unformed.text_base = 0xffffffffc0e00000ull;
  unformed.init_base = 0;
  unformed.state = 3;
  unformed.num_orcs = 5;
  w.AddModule(unformed);
  // A name with no NUL in its 56 bytes and bytes that are not UTF-8.
  ModSpec hostile = Ext4();
  hostile.text_base = 0xffffffffc0f00000ull;
  hostile.syms.clear();
  const Kva ho = w.AddModule(hostile);
  std::string raw(56, '\xff');
  w.g.Write(ho + 24, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), 56));

  Reader r = w.reader();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->modules().size(), 5u);
  EXPECT_TRUE(map->modules()[0].usable());
  EXPECT_THAT(map->modules()[1].skip_reason, HasSubstr("symtab"));
  EXPECT_THAT(map->modules()[2].skip_reason, HasSubstr("num_symtab 50000000"));
  EXPECT_THAT(map->modules()[3].skip_reason, HasSubstr("UNFORMED"));
  EXPECT_FALSE(map->modules()[3].orc);  // tables of a half-loaded module are not trusted
  EXPECT_EQ(map->Find(kXfs + 0x40), nullptr);
  EXPECT_EQ(map->Find(0xffffffffc0d00040ull), nullptr);
  EXPECT_EQ(map->Find(0xffffffffc0e00040ull), nullptr);
  const GuestModule& h = map->modules()[4];
  EXPECT_TRUE(IsValidUtf8(h.name));
  EXPECT_FALSE(h.name.empty());
  EXPECT_EQ(h.symbols_unavailable, "no symbol lies in the module's text");
  // Symbol-less but usable: the module claims its text, Symbolize finds nothing.
  EXPECT_EQ(map->Find(0xffffffffc0f00010ull), &h);
  EXPECT_FALSE(ModuleMap::Symbolize(h, 0xffffffffc0f00010ull));
}

TEST(ModuleMapTest, StrtabEndingAtAnUnmappedPageStillNamesItsSymbols) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  const Kva ext4 = w.AddModule(Ext4());
  // Move the strtab to the last bytes of guest RAM: the name window runs past its end.
  Reader r = w.reader();
  const Kva ks = w.KallsymsOf(ext4);
  const Kva strtab(*r.ReadU64(ks + 16));
  // Ext4()'s strtab through ext4_last's NUL (the last kept name): that NUL is RAM's last byte.
  const uint64_t len = 63;
  std::vector<uint8_t> bytes = *r.ReadBytes(strtab, len);
  const Kva at(testing::kFakeDirectMapBase + w.g.ram_bytes() - len);
  w.g.Write(at, bytes);
  w.g.PutPtr(ks + 16, at);
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  const GuestModule& m = map->modules()[0];
  EXPECT_TRUE(m.usable()) << m.skip_reason;
  EXPECT_EQ(m.symbols_unavailable, "");
  EXPECT_EQ(m.symbols.size(), 4u);
  // A name that runs into the unreadable page is lost, and said so.
  w.g.Put<uint8_t>(Kva(testing::kFakeDirectMapBase + w.g.ram_bytes() - 1), 'x');
  map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_THAT(map->modules()[0].symbols_unavailable, HasSubstr("1 symbol names unreadable"));
  EXPECT_EQ(map->modules()[0].symbols.size(), 3u);
}

TEST(ModuleMapTest, ListCycleStopsTheWalkAndKeepsWhatWasRead) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddModule(Ext4());
  w.AddModule(Xfs());
  // xfs.next -> ext4: never back to the head.
  w.g.PutPtr(w.module_nodes[1], w.module_nodes[0]);
  Reader r = w.reader();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->modules().size(), 2u);
  ASSERT_FALSE(map->problems().empty());
  EXPECT_THAT(map->problems()[0], HasSubstr("cycle"));
  EXPECT_NE(map->Find(kExt4 + 0x11c), nullptr);
  // The fingerprint pass terminates on the same cycle.
  EXPECT_TRUE(ModuleListFingerprint(r, *w.symbols, *w.resolver).ok());
}

TEST(ModuleMapTest, UnreadableHeadOrMissingSymbolFailsTheMap) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  SymbolIndex bad(
      std::vector<SymbolIndex::Entry>{{"modules", testing::FakeGuest::Unmapped().value, 'd'}});
  Reader r = w.reader();
  EXPECT_FALSE(ModuleMap::Read(r, bad, *w.resolver).ok());
  EXPECT_FALSE(ModuleListFingerprint(r, bad, *w.resolver).ok());
  SymbolIndex none(std::vector<SymbolIndex::Entry>{});
  EXPECT_EQ(ModuleMap::Read(r, none, *w.resolver).status().code(), absl::StatusCode::kNotFound);
}

TEST(ModuleMapTest, EmptyListIsAnEmptyMap) {
  CodeMapWorld w(CodeMapWorld::Layout::kCoreLayout);
  Reader r = w.reader();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_TRUE(map->modules().empty());
  EXPECT_EQ(map->Find(kExt4), nullptr);
}

TEST(ModuleMapTest, FingerprintChangesWhenTheListChanges) {
  CodeMapWorld w(CodeMapWorld::Layout::kMem);
  w.AddModule(Ext4());
  Reader r = w.reader();
  absl::StatusOr<uint64_t> before = ModuleListFingerprint(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(before.ok()) << before.status();
  absl::StatusOr<ModuleMap> map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->fingerprint(), *before);
  EXPECT_EQ(*ModuleListFingerprint(r, *w.symbols, *w.resolver), *before);  // stable

  const Kva xfs = w.AddModule(Xfs());
  absl::StatusOr<uint64_t> added = ModuleListFingerprint(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(added.ok());
  EXPECT_NE(*added, *before);
  map = ModuleMap::Read(r, *w.symbols, *w.resolver);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->fingerprint(), *added);

  // Init completes: COMING -> LIVE (mod->kallsyms would move to core_kallsyms too).
  w.g.Put<int32_t>(xfs, 0);
  EXPECT_NE(*ModuleListFingerprint(r, *w.symbols, *w.resolver), *added);
}

}  // namespace
}  // namespace kfreeze
