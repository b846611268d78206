// Test support: encode ORC entries under a layout and lay ORC tables out in a FakeGuest, the way
// the kernel holds them (a place-relative s32 ip table and a parallel 6-byte entry table).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/unwind/orc_entry.h"
#include "core/unwind/orc_table.h"
#include "tests/walkers/support/fake_guest.h"

namespace kfreeze::testing {

// Where synthetic "kernel text" lives: only numbers, within s32 reach of every FakeGuest object.
inline constexpr uint64_t kTextBase = kFakeDirectMapBase + (64ull << 20);

RawOrcEntry EncodeOrcEntry(const OrcEntry& e, OrcLayout layout);

// Common rules, for brevity.
OrcEntry CallSp(int16_t sp_offset, OrcReg bp_reg = OrcReg::kUndefined, int16_t bp_offset = 0);
OrcEntry OfType(OrcType type, OrcReg sp_reg = OrcReg::kUndefined, int16_t sp_offset = 0);

struct TableRow {
  uint64_t ip;
  OrcEntry entry;
};

// A table as the detector sees real ones: `n` rows, ~80% SP-based CALL, the rest BP-based CALL
// and UNDEFINED gaps, at increasing ips from `base` in steps of 16.
std::vector<TableRow> TypicalRows(uint64_t base, size_t n);

// Writes the rows (in the given order) into the guest; text spans [text_begin, text_end).
OrcSectionRef PlaceTable(FakeGuest& guest, const std::vector<TableRow>& rows, OrcLayout layout,
                         uint64_t text_begin, uint64_t text_end, std::string module = "");

}  // namespace kfreeze::testing
