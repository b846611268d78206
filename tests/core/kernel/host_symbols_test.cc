// Host symbol sources (System.map, ELF .symtab) and the cross-check against guest kallsyms.
#include "core/kernel/host_symbols.h"

#include <fstream>

#include "gtest/gtest.h"

extern "C" int kfreeze_host_symbols_test_marker() { return 42; }

namespace kfreeze {
namespace {

TEST(HostSymbolsTest, LoadsElfSymtab) {
  // This test binary is an ELF with a .symtab that holds the marker function above.
  absl::StatusOr<std::vector<HostSymbol>> syms = LoadElfSymbols("/proc/self/exe");
  ASSERT_TRUE(syms.ok()) << syms.status();
  bool found = false;
  for (const HostSymbol& s : *syms) {
    if (s.name != "kfreeze_host_symbols_test_marker") continue;
    found = true;
    EXPECT_EQ(s.type, 'T');
    EXPECT_NE(s.address, 0u);
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(LoadElfSymbols("/nonexistent").status().code(), absl::StatusCode::kNotFound);
  const std::string not_elf = ::testing::TempDir() + "/not-elf";
  std::ofstream(not_elf) << "hello";
  EXPECT_FALSE(LoadElfSymbols(not_elf).ok());
}

TEST(HostSymbolsTest, ParsesSystemMapAndRejectsGarbage) {
  const std::string path = ::testing::TempDir() + "/System.map.small";
  std::ofstream(path) << "ffffffff81000000 T _text\n0000000000000000 D fixed_percpu_data\n";
  absl::StatusOr<std::vector<HostSymbol>> syms = LoadSystemMap(path);
  ASSERT_TRUE(syms.ok()) << syms.status();
  ASSERT_EQ(syms->size(), 2u);
  EXPECT_EQ((*syms)[0].name, "_text");
  EXPECT_EQ((*syms)[0].address, 0xffffffff81000000ull);
  const std::string bad = ::testing::TempDir() + "/System.map.bad";
  std::ofstream(bad) << "not a map\n";
  EXPECT_EQ(LoadSystemMap(bad).status().code(), absl::StatusCode::kInvalidArgument);
  const std::string empty = ::testing::TempDir() + "/System.map.empty";
  std::ofstream(empty) << "";
  EXPECT_FALSE(LoadSystemMap(empty).ok());
}

TEST(HostSymbolsTest, CrossCheckAppliesTheSlideOnlyToImageSymbols) {
  const uint64_t slide = 0x2e000000;
  SymbolIndex guest({{"_text", 0xffffffff81000000ull + slide, 'T'},
                     {"fixed_percpu_data", 0x0, 'D'},
                     {"dup", 0xffffffff81000010ull + slide, 't'},
                     {"dup", 0xffffffff81000020ull + slide, 't'}});
  std::vector<HostSymbol> host = {{"_text", 0xffffffff81000000ull, 'T'},
                                  {"fixed_percpu_data", 0, 'D'},
                                  {"dup", 0xffffffff81000099ull, 't'},  // duplicated: skipped
                                  {"host_only", 0xffffffff81000030ull, 't'}};
  absl::StatusOr<HostSymbolCheck> ok = CrossCheckSymbols(guest, host, slide, "map");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->compared, 2u);
  host[0].address += 0x1000;
  absl::StatusOr<HostSymbolCheck> bad = CrossCheckSymbols(guest, host, slide, "map");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("_text"), absl::string_view::npos);
  EXPECT_FALSE(CrossCheckSymbols(guest, {{"nothing", 1, 'T'}}, slide, "map").ok());
}

}  // namespace
}  // namespace kfreeze

namespace kfreeze {
namespace {

TEST(SymbolIndexTest, SurvivesMovesWithShortNames) {
  // Names short enough for std::string's inline buffer: the index must not keep views into it.
  SymbolIndex built({{"a", 0x10, 'T'}, {"bc", 0x20, 't'}, {"a", 0x30, 't'}});
  SymbolIndex moved(std::move(built));
  SymbolIndex assigned;
  assigned = std::move(moved);
  ASSERT_EQ(assigned.size(), 3u);
  EXPECT_EQ(assigned.Find("a")->address, Kva(0x10));  // the global one wins
  EXPECT_EQ(assigned.Find("bc")->address, Kva(0x20));
  EXPECT_EQ(assigned.Lookup(Kva(0x25))->symbol.name, "bc");
  EXPECT_EQ(assigned.Lookup(Kva(0x25))->offset, 5u);
  EXPECT_FALSE(assigned.Lookup(Kva(0x5)).has_value());
  EXPECT_EQ(assigned.FindAll("a").size(), 2u);
  // Out of address order: Lookup still finds the right neighbour.
  SymbolIndex unsorted({{"z", 0x300, 'T'}, {"y", 0x100, 'T'}, {"x", 0x200, 'T'}});
  EXPECT_EQ(unsorted.Lookup(Kva(0x250))->symbol.name, "x");
}

}  // namespace
}  // namespace kfreeze
