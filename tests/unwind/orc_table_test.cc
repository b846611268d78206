#include "core/unwind/orc_table.h"

#include <algorithm>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unwind/orc_test_tables.h"

namespace kfreeze {
namespace {

using testing::FakeGuest;
using ::testing::HasSubstr;
using testing::kTextBase;
using testing::PlaceTable;
using testing::TableRow;
using testing::TypicalRows;

constexpr uint64_t kRows = 200;
constexpr uint64_t kTextEnd = kTextBase + 16 * kRows;

TEST(OrcTables, LoadsAndFindsTheCoveringEntry) {
  FakeGuest guest;
  const std::vector<TableRow> rows = TypicalRows(kTextBase, kRows);
  OrcSectionRef ref = PlaceTable(guest, rows, OrcLayout::kV6_4, kTextBase, kTextEnd);
  Reader reader = guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {ref});
  ASSERT_TRUE(t.ok()) << t.status();
  const OrcTables& tables = **t;
  EXPECT_EQ(tables.layout(), OrcLayout::kV6_4);
  EXPECT_EQ(tables.entries(), kRows);
  EXPECT_TRUE(tables.skipped().empty());
  // Exactly at an entry, inside its range, and at the last byte before the next one.
  for (size_t i : {size_t{0}, size_t{1}, size_t{57}, size_t{kRows - 1}}) {
    for (uint64_t delta : {0, 7, 15}) {
      std::optional<OrcLookup> got = tables.Find(rows[i].ip + delta);
      ASSERT_TRUE(got.has_value()) << i << "+" << delta;
      EXPECT_EQ(got->entry, rows[i].entry);
      EXPECT_EQ(*got->module, "");
    }
  }
  EXPECT_FALSE(tables.Find(kTextBase - 1).has_value());
  EXPECT_FALSE(tables.Find(kTextEnd).has_value());
  EXPECT_FALSE(tables.Find(0).has_value());
  EXPECT_FALSE(tables.Find(~0ull).has_value());
}

TEST(OrcTables, ModulesShareVmlinuxLayoutAndNameTheModule) {
  FakeGuest guest;
  OrcSectionRef vmlinux =
      PlaceTable(guest, TypicalRows(kTextBase, kRows), OrcLayout::kV7_1, kTextBase, kTextEnd);
  const uint64_t mod_text = kTextBase + (1 << 20);
  // Too small to detect on its own: decoded with vmlinux's layout.
  std::vector<TableRow> mod_rows = {{mod_text, testing::CallSp(8)},
                                    {mod_text + 0x40, testing::CallSp(24)}};
  OrcSectionRef mod =
      PlaceTable(guest, mod_rows, OrcLayout::kV7_1, mod_text, mod_text + 0x100, "ext4");
  Reader reader = guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {mod, vmlinux});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->layout(), OrcLayout::kV7_1);
  EXPECT_EQ((*t)->entries(), kRows + 2);
  std::optional<OrcLookup> got = (*t)->Find(mod_text + 0x48);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got->module, "ext4");
  EXPECT_EQ(got->entry.sp_offset, 24);
  EXPECT_EQ(got->entry.sp_reg, OrcReg::kSp);
}

TEST(OrcTables, UnsortedIpsAreSorted) {
  FakeGuest guest;
  std::vector<TableRow> rows = TypicalRows(kTextBase, kRows);
  std::vector<TableRow> shuffled = rows;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(3));
  OrcSectionRef ref = PlaceTable(guest, shuffled, OrcLayout::kV6_4, kTextBase, kTextEnd);
  Reader reader = guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {ref});
  ASSERT_TRUE(t.ok()) << t.status();
  for (const TableRow& row : rows) {
    std::optional<OrcLookup> got = (*t)->Find(row.ip + 3);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->entry, row.entry);
  }
}

TEST(OrcTables, CorruptSectionsAreSkippedWithReasons) {
  FakeGuest guest;
  OrcSectionRef good =
      PlaceTable(guest, TypicalRows(kTextBase, kRows), OrcLayout::kV6_4, kTextBase, kTextEnd);
  OrcSectionRef absurd = good;
  absurd.module = "absurd";
  absurd.count = 1ull << 40;
  OrcSectionRef unmapped = good;
  unmapped.module = "unmapped";
  unmapped.ip_table_kva = FakeGuest::Unmapped().value;
  OrcSectionRef unmapped_orc = good;
  unmapped_orc.module = "unmapped_orc";
  unmapped_orc.orc_table_kva = FakeGuest::Unmapped().value;
  OrcSectionRef wrapping = good;
  wrapping.module = "wrapping";
  wrapping.ip_table_kva = ~0ull - 8;
  OrcSectionRef no_text = good;
  no_text.module = "no_text";
  no_text.text_end = no_text.text_begin;
  OrcSectionRef elsewhere = good;  // the right table for the wrong text
  elsewhere.module = "elsewhere";
  elsewhere.text_begin = kTextBase + (1ull << 30);
  elsewhere.text_end = elsewhere.text_begin + 0x1000;
  OrcSectionRef empty = good;
  empty.module = "empty";
  empty.count = 0;

  Reader reader = guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(
      reader, {absurd, unmapped, good, unmapped_orc, wrapping, no_text, elsewhere, empty});
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->entries(), kRows);
  EXPECT_EQ((*t)->sections(), 1u);
  const std::vector<std::string>& skipped = (*t)->skipped();
  ASSERT_EQ(skipped.size(), 7u);
  EXPECT_THAT(skipped[0], HasSubstr("module absurd skipped: its ORC table claims 1099511627776"));
  EXPECT_THAT(skipped[1], HasSubstr("module unmapped skipped: its ip table at 0xffffc90000000000"));
  EXPECT_THAT(skipped[2], HasSubstr("module unmapped_orc skipped: its ORC entries at"));
  EXPECT_THAT(skipped[3], HasSubstr("wraps around"));
  EXPECT_THAT(skipped[4], HasSubstr("is empty"));
  EXPECT_THAT(skipped[5], HasSubstr("fall outside its text"));
  EXPECT_THAT(skipped[6], HasSubstr("module empty skipped: its ORC table is empty"));
}

TEST(OrcTables, NothingLoadableOrUndetectableFails) {
  FakeGuest guest;
  OrcSectionRef bad;
  bad.ip_table_kva = FakeGuest::Unmapped().value;
  bad.orc_table_kva = FakeGuest::Unmapped().value;
  bad.count = 10;
  bad.text_begin = kTextBase;
  bad.text_end = kTextEnd;
  Reader reader = guest.MakeReader();
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {bad});
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("no ORC table could be loaded: vmlinux skipped"));
  EXPECT_FALSE(OrcTables::Load(reader, {}).ok());

  // Readable, but the entries are noise.
  std::vector<TableRow> rows = TypicalRows(kTextBase, kRows);
  OrcSectionRef noise = PlaceTable(guest, rows, OrcLayout::kV6_4, kTextBase, kTextEnd);
  std::mt19937 rng(1);
  for (uint64_t i = 0; i < 6 * kRows; ++i) {
    guest.Put<uint8_t>(Kva(noise.orc_table_kva + i), static_cast<uint8_t>(rng()));
  }
  t = OrcTables::Load(reader, {noise});
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("vmlinux: ORC table of 200 entries is implausible"));
}

TEST(OrcTables, TotalEntriesAreCapped) {
  FakeGuest guest;
  OrcSectionRef ref =
      PlaceTable(guest, TypicalRows(kTextBase, kRows), OrcLayout::kV6_4, kTextBase, kTextEnd);
  // Sections each within the per-section cap whose sum is not: the one past it is not read.
  OrcSectionRef again = ref;
  again.module = "again";
  OrcSectionRef third = ref;
  third.module = "third";
  Reader reader = guest.MakeReader();
  OrcTables::Limits limits;
  limits.max_entries_per_section = kRows;
  limits.max_entries_total = 2 * kRows + 1;
  absl::StatusOr<std::shared_ptr<const OrcTables>> t =
      OrcTables::Load(reader, {ref, again, third}, limits);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->entries(), 2 * kRows);
  ASSERT_EQ((*t)->skipped().size(), 1u);
  EXPECT_EQ((*t)->skipped()[0],
            "module third skipped: its 200 ORC entries would pass the total cap of 401");
  limits.max_entries_per_section = kRows - 1;
  t = OrcTables::Load(reader, {ref}, limits);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("vmlinux skipped: its ORC table claims 200 entries "
                                              "(cap 199)"));
}

TEST(OrcTables, BudgetBoundsTheLoad) {
  FakeGuest guest;
  OrcSectionRef ref =
      PlaceTable(guest, TypicalRows(kTextBase, kRows), OrcLayout::kV6_4, kTextBase, kTextEnd);
  BudgetLimits small;
  small.read_bytes = 100;
  ReadBudget budget(small);
  Reader reader = guest.MakeReader();
  reader.SetBudget(&budget);
  OrcSectionRef mod = ref;
  mod.module = "later";
  absl::StatusOr<std::shared_ptr<const OrcTables>> t = OrcTables::Load(reader, {ref, mod});
  ASSERT_FALSE(t.ok());
  // The spent budget stops the loop: the module is not even tried.
  EXPECT_THAT(t.status().message(), HasSubstr("vmlinux skipped"));
  EXPECT_THAT(t.status().message(), ::testing::Not(HasSubstr("later")));
}

TEST(VmlinuxOrcSection, FromSymbols) {
  const uint64_t k = 0xffffffff81000000ull;
  SymbolIndex syms(std::vector<SymbolIndex::Entry>{
      {"_stext", k, 'T'},
      {"_etext", k + 0x1000000, 'T'},
      {"_sinittext", k + 0x3000000, 'T'},
      {"_einittext", k + 0x3100000, 'T'},
      {"__start_orc_unwind_ip", k + 0x2000000, 'D'},
      {"__stop_orc_unwind_ip", k + 0x2000000 + 4 * 1000, 'D'},
      {"__start_orc_unwind", k + 0x2100000, 'D'},
  });
  absl::StatusOr<OrcSectionRef> ref = VmlinuxOrcSection(syms);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->module, "");
  EXPECT_EQ(ref->count, 1000u);
  EXPECT_EQ(ref->ip_table_kva, k + 0x2000000);
  EXPECT_EQ(ref->orc_table_kva, k + 0x2100000);
  EXPECT_EQ(ref->text_begin, k);
  EXPECT_EQ(ref->text_end, k + 0x3100000);

  SymbolIndex missing(std::vector<SymbolIndex::Entry>{{"_stext", k, 'T'}});
  absl::StatusOr<OrcSectionRef> none = VmlinuxOrcSection(missing);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(none.status().message(), HasSubstr("__start_orc_unwind_ip"));

  SymbolIndex odd(std::vector<SymbolIndex::Entry>{
      {"_stext", k, 'T'},
      {"_etext", k + 0x1000000, 'T'},
      {"__start_orc_unwind_ip", k + 0x2000000, 'D'},
      {"__stop_orc_unwind_ip", k + 0x2000000 + 6, 'D'},
      {"__start_orc_unwind", k + 0x2100000, 'D'},
  });
  EXPECT_FALSE(VmlinuxOrcSection(odd).ok());
}

}  // namespace
}  // namespace kfreeze
