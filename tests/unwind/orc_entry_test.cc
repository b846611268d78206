#include "core/unwind/orc_entry.h"

#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unwind/orc_test_tables.h"

namespace kfreeze {
namespace {

using testing::EncodeOrcEntry;
using ::testing::HasSubstr;

RawOrcEntry Raw(int16_t sp_off, int16_t bp_off, uint16_t bits) {
  RawOrcEntry r;
  r[0] = static_cast<uint8_t>(sp_off);
  r[1] = static_cast<uint8_t>(static_cast<uint16_t>(sp_off) >> 8);
  r[2] = static_cast<uint8_t>(bp_off);
  r[3] = static_cast<uint8_t>(static_cast<uint16_t>(bp_off) >> 8);
  r[4] = static_cast<uint8_t>(bits);
  r[5] = static_cast<uint8_t>(bits >> 8);
  return r;
}

TEST(OrcEntryDecode, V6_4HandBuilt) {
  // sp_reg=SP(5), bp_reg=PREV_SP(1), type=CALL(2), signal=0: a typical C function frame.
  OrcEntry e = DecodeOrcEntry(Raw(16, -16, 0x0215), OrcLayout::kV6_4);
  EXPECT_EQ(e.sp_offset, 16);
  EXPECT_EQ(e.bp_offset, -16);
  EXPECT_EQ(e.sp_reg, OrcReg::kSp);
  EXPECT_EQ(e.bp_reg, OrcReg::kPrevSp);
  EXPECT_EQ(e.type, OrcType::kCall);
  EXPECT_FALSE(e.signal);
  // sp_reg=SP, type=REGS(3), signal: an entry-code pt_regs frame.
  e = DecodeOrcEntry(Raw(0, 0, 0x0b05), OrcLayout::kV6_4);
  EXPECT_EQ(e.type, OrcType::kRegs);
  EXPECT_TRUE(e.signal);
  // END_OF_STACK(1) with an UNDEFINED sp_reg.
  e = DecodeOrcEntry(Raw(0, 0, 0x0100), OrcLayout::kV6_4);
  EXPECT_EQ(e.type, OrcType::kEndOfStack);
  // Every classic register number.
  const OrcReg regs[] = {OrcReg::kUndefined,  OrcReg::kPrevSp,    OrcReg::kDx,  OrcReg::kDi,
                         OrcReg::kBp,         OrcReg::kSp,        OrcReg::kR10, OrcReg::kR13,
                         OrcReg::kBpIndirect, OrcReg::kSpIndirect};
  for (uint16_t n = 0; n < 16; ++n) {
    e = DecodeOrcEntry(Raw(0, 0, 0x0200 | n), OrcLayout::kV6_4);
    EXPECT_EQ(e.sp_reg, n < 10 ? regs[n] : OrcReg::kUnknown) << n;
  }
  // Type 5-7 and the unused top bits are not valid.
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0505), OrcLayout::kV6_4).type, OrcType::kUnknown);
  EXPECT_EQ(DecodeOrcEntry(Raw(8, 0, 0x1205), OrcLayout::kV6_4).type, OrcType::kUnknown);
}

TEST(OrcEntryDecode, V7_1HandBuilt) {
  // sp_reg=SP(3), bp_reg=PREV_SP(8), CALL.
  OrcEntry e = DecodeOrcEntry(Raw(16, -16, 0x0283), OrcLayout::kV7_1);
  EXPECT_EQ(e.sp_reg, OrcReg::kSp);
  EXPECT_EQ(e.bp_reg, OrcReg::kPrevSp);
  EXPECT_EQ(e.type, OrcType::kCall);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0204), OrcLayout::kV7_1).sp_reg, OrcReg::kBp);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0202), OrcLayout::kV7_1).sp_reg, OrcReg::kDx);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0206), OrcLayout::kV7_1).sp_reg, OrcReg::kR10);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0207), OrcLayout::kV7_1).sp_reg, OrcReg::kR13);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0209), OrcLayout::kV7_1).sp_reg, OrcReg::kSpIndirect);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x020a), OrcLayout::kV7_1).sp_reg, OrcReg::kBpIndirect);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0201), OrcLayout::kV7_1).sp_reg, OrcReg::kAx);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0205), OrcLayout::kV7_1).sp_reg, OrcReg::kDi);
  for (uint16_t n = 11; n < 16; ++n) {
    EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0200 | n), OrcLayout::kV7_1).sp_reg, OrcReg::kUnknown);
  }
  // The same bytes read as a DI-based frame under 6.4.
  EXPECT_EQ(DecodeOrcEntry(Raw(16, -16, 0x0283), OrcLayout::kV6_4).sp_reg, OrcReg::kDi);
}

TEST(OrcEntryDecode, Pre6_4HandBuilt) {
  // type:2 CALL=0, sp_reg SP(5), bp_reg PREV_SP(1).
  OrcEntry e = DecodeOrcEntry(Raw(16, -16, 0x0015), OrcLayout::kPre6_4);
  EXPECT_EQ(e.type, OrcType::kCall);
  EXPECT_EQ(e.sp_reg, OrcReg::kSp);
  EXPECT_FALSE(e.signal);
  e = DecodeOrcEntry(Raw(0, 0, 0x0105), OrcLayout::kPre6_4);
  EXPECT_EQ(e.type, OrcType::kRegs);
  EXPECT_TRUE(e.signal);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0205), OrcLayout::kPre6_4).type, OrcType::kRegsPartial);
  // UNDEFINED sp_reg: the end bit tells the end of the stack from a blind spot.
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0400), OrcLayout::kPre6_4).type, OrcType::kEndOfStack);
  EXPECT_EQ(DecodeOrcEntry(Raw(0, 0, 0x0000), OrcLayout::kPre6_4).type, OrcType::kUndefined);
}

TEST(OrcEntryDecode, EncodeRoundTripsEveryLayout) {
  for (OrcLayout layout : {OrcLayout::kPre6_4, OrcLayout::kV6_4, OrcLayout::kV7_1}) {
    for (const testing::TableRow& row : testing::TypicalRows(0, 40)) {
      EXPECT_EQ(DecodeOrcEntry(EncodeOrcEntry(row.entry, layout), layout), row.entry)
          << OrcLayoutName(layout);
    }
  }
}

std::vector<RawOrcEntry> Encoded(OrcLayout layout, size_t n) {
  std::vector<RawOrcEntry> raw;
  for (const testing::TableRow& row : testing::TypicalRows(0, n)) {
    raw.push_back(EncodeOrcEntry(row.entry, layout));
  }
  // A few entry-code frames, as real tables have.
  OrcEntry regs = testing::OfType(OrcType::kRegs, OrcReg::kSp, 0);
  raw.push_back(EncodeOrcEntry(regs, layout));
  return raw;
}

TEST(OrcLayoutDetect, FindsEachLayout) {
  for (OrcLayout layout : {OrcLayout::kPre6_4, OrcLayout::kV6_4, OrcLayout::kV7_1}) {
    absl::StatusOr<OrcLayout> got = DetectOrcLayout(Encoded(layout, 1000));
    ASSERT_TRUE(got.ok()) << OrcLayoutName(layout) << ": " << got.status();
    EXPECT_EQ(*got, layout);
  }
}

TEST(OrcLayoutDetect, GarbageGetsAReason) {
  std::mt19937 rng(7);
  std::vector<RawOrcEntry> raw(5000);
  for (RawOrcEntry& r : raw) {
    for (uint8_t& b : r) b = static_cast<uint8_t>(rng());
  }
  absl::StatusOr<OrcLayout> got = DetectOrcLayout(raw);
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("implausible under every known layout"));
  // All zeros: every entry undefined, nothing to go on.
  std::vector<RawOrcEntry> zeros(100, RawOrcEntry{});
  EXPECT_FALSE(DetectOrcLayout(zeros).ok());
  EXPECT_THAT(DetectOrcLayout(std::vector<RawOrcEntry>(3)).status().message(),
              HasSubstr("too few"));
}

TEST(OrcLayoutDetect, ScoresExplainTheChoice) {
  const std::vector<RawOrcEntry> v71 = Encoded(OrcLayout::kV7_1, 1000);
  OrcLayoutScore right = ScoreOrcLayout(v71, OrcLayout::kV7_1);
  OrcLayoutScore wrong = ScoreOrcLayout(v71, OrcLayout::kV6_4);
  EXPECT_GT(right.plausible, 800u);
  EXPECT_EQ(right.invalid, 0u);
  EXPECT_LT(wrong.plausible, 200u);  // SP reads as DI, PREV_SP as BP_INDIRECT
  EXPECT_GT(wrong.invalid, 50u);
}

}  // namespace
}  // namespace kfreeze
