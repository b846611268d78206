#include "tests/unwind/orc_test_tables.h"

#include <cstring>

namespace kfreeze::testing {
namespace {

unsigned RegNumber(OrcReg reg, OrcLayout layout) {
  if (layout == OrcLayout::kV7_1) {
    switch (reg) {
      case OrcReg::kUndefined:
        return 0;
      case OrcReg::kAx:
        return 1;
      case OrcReg::kDx:
        return 2;
      case OrcReg::kSp:
        return 3;
      case OrcReg::kBp:
        return 4;
      case OrcReg::kDi:
        return 5;
      case OrcReg::kR10:
        return 6;
      case OrcReg::kR13:
        return 7;
      case OrcReg::kPrevSp:
        return 8;
      case OrcReg::kSpIndirect:
        return 9;
      case OrcReg::kBpIndirect:
        return 10;
      case OrcReg::kUnknown:
        return 15;
    }
  }
  switch (reg) {
    case OrcReg::kUndefined:
      return 0;
    case OrcReg::kPrevSp:
      return 1;
    case OrcReg::kDx:
      return 2;
    case OrcReg::kDi:
      return 3;
    case OrcReg::kBp:
      return 4;
    case OrcReg::kSp:
      return 5;
    case OrcReg::kR10:
      return 6;
    case OrcReg::kR13:
      return 7;
    case OrcReg::kBpIndirect:
      return 8;
    case OrcReg::kSpIndirect:
      return 9;
    case OrcReg::kAx:  // no number before 7.1
    case OrcReg::kUnknown:
      return 15;
  }
  return 15;
}

}  // namespace

RawOrcEntry EncodeOrcEntry(const OrcEntry& e, OrcLayout layout) {
  unsigned bits = RegNumber(e.sp_reg, layout) | (RegNumber(e.bp_reg, layout) << 4);
  if (layout == OrcLayout::kPre6_4) {
    const unsigned type = e.type == OrcType::kRegs ? 1 : e.type == OrcType::kRegsPartial ? 2 : 0;
    bits |= type << 8;
    if (e.type == OrcType::kEndOfStack) bits |= 1u << 10;
  } else {
    const unsigned type = static_cast<unsigned>(e.type);  // OrcType follows the 6.4 numbering
    bits |= type << 8;
    if (e.signal) bits |= 1u << 11;
  }
  RawOrcEntry raw;
  std::memcpy(raw.data(), &e.sp_offset, 2);
  std::memcpy(raw.data() + 2, &e.bp_offset, 2);
  raw[4] = static_cast<uint8_t>(bits);
  raw[5] = static_cast<uint8_t>(bits >> 8);
  return raw;
}

OrcEntry CallSp(int16_t sp_offset, OrcReg bp_reg, int16_t bp_offset) {
  OrcEntry e;
  e.type = OrcType::kCall;
  e.sp_reg = OrcReg::kSp;
  e.sp_offset = sp_offset;
  e.bp_reg = bp_reg;
  e.bp_offset = bp_offset;
  return e;
}

OrcEntry OfType(OrcType type, OrcReg sp_reg, int16_t sp_offset) {
  OrcEntry e;
  e.type = type;
  e.sp_reg = sp_reg;
  e.sp_offset = sp_offset;
  e.signal = type == OrcType::kRegs || type == OrcType::kRegsPartial;
  return e;
}

std::vector<TableRow> TypicalRows(uint64_t base, size_t n) {
  std::vector<TableRow> rows;
  for (size_t i = 0; i < n; ++i) {
    OrcEntry e;
    if (i % 10 == 9) {
      e = OfType(OrcType::kUndefined);
    } else if (i % 10 == 8) {
      e.type = OrcType::kCall;
      e.sp_reg = OrcReg::kBp;
      e.sp_offset = 16;
      e.bp_reg = OrcReg::kPrevSp;
      e.bp_offset = -16;
    } else {
      e = CallSp(static_cast<int16_t>(8 + 8 * (i % 4)));
    }
    rows.push_back({base + 16 * i, e});
  }
  return rows;
}

OrcSectionRef PlaceTable(FakeGuest& guest, const std::vector<TableRow>& rows, OrcLayout layout,
                         uint64_t text_begin, uint64_t text_end, std::string module) {
  OrcSectionRef ref;
  ref.module = std::move(module);
  ref.count = rows.size();
  ref.text_begin = text_begin;
  ref.text_end = text_end;
  ref.ip_table_kva = guest.Alloc(4 * rows.size() + 4, 4).value;
  ref.orc_table_kva = guest.Alloc(6 * rows.size() + 6, 2).value;
  for (size_t i = 0; i < rows.size(); ++i) {
    const uint64_t slot = ref.ip_table_kva + 4 * i;
    guest.Put<int32_t>(Kva(slot), static_cast<int32_t>(rows[i].ip - slot));
    const RawOrcEntry raw = EncodeOrcEntry(rows[i].entry, layout);
    guest.Write(Kva(ref.orc_table_kva + 6 * i), raw);
  }
  return ref;
}

}  // namespace kfreeze::testing
