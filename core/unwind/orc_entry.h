// One ORC unwind entry (the kernel's 6-byte `struct orc_entry`) in our own semantic terms, and the
// on-disk formats it has had. The register numbers and the type field changed across releases, so
// a raw entry means nothing until the layout is known; DetectOrcLayout finds it from the table.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace kfreeze {

// What the base register of an ORC rule is, independent of the numbering a release uses.
// kUnknown: a number that names no register under the layout (corrupt or newer data).
enum class OrcReg : uint8_t {
  kUndefined,
  kPrevSp,
  kAx,  // 7.1+ only
  kDx,
  kDi,
  kBp,
  kSp,
  kR10,
  kR13,
  kBpIndirect,
  kSpIndirect,
  kUnknown,
};

// What kind of frame the entry describes. kUnknown: a type number the layout does not define.
enum class OrcType : uint8_t {
  kUndefined,
  kEndOfStack,
  kCall,
  kRegs,
  kRegsPartial,
  kUnknown,
};

struct OrcEntry {
  int16_t sp_offset = 0;
  int16_t bp_offset = 0;
  OrcReg sp_reg = OrcReg::kUndefined;
  OrcReg bp_reg = OrcReg::kUndefined;
  OrcType type = OrcType::kUndefined;
  // The next frame's ip is looked up as-is, not as a return address (ip - 1).
  bool signal = false;

  bool operator==(const OrcEntry&) const = default;
};

// The on-disk formats. All are 6 bytes, little-endian: s16 sp_offset, s16 bp_offset, then a u16
// of bitfields with sp_reg in bits 0-3 and bp_reg in bits 4-7.
enum class OrcLayout : uint8_t {
  // Before 6.4: type:2 (CALL=0, REGS=1, REGS_PARTIAL=2) and an `end` bit (bit 10) that, with an
  // UNDEFINED sp_reg, marks the end of the stack. Registers as in kV6_4.
  kPre6_4,
  // 6.4 up to 7.0: type:3 (UNDEFINED=0, END_OF_STACK=1, CALL=2, REGS=3, REGS_PARTIAL=4) and a
  // signal bit (bit 11). Registers: UNDEFINED=0 PREV_SP=1 DX=2 DI=3 BP=4 SP=5 R10=6 R13=7
  // BP_INDIRECT=8 SP_INDIRECT=9.
  kV6_4,
  // 7.1 and later: kV6_4's bitfields, registers renumbered and AX added: UNDEFINED=0 AX=1 DX=2
  // SP=3 BP=4 DI=5 R10=6 R13=7 PREV_SP=8 SP_INDIRECT=9 BP_INDIRECT=10. Established from the
  // Debian 7.1.13 vmlinux (the pt_regs slot each case of unwind_next_frame's sp_reg switch reads)
  // and the 7.1-7.3 tables' distributions, which match 6.18's under this mapping.
  kV7_1,
};

inline constexpr size_t kOrcEntryBytes = 6;
using RawOrcEntry = std::array<uint8_t, kOrcEntryBytes>;

absl::string_view OrcLayoutName(OrcLayout layout);
absl::string_view OrcRegName(OrcReg reg);
absl::string_view OrcTypeName(OrcType type);

OrcEntry DecodeOrcEntry(const RawOrcEntry& raw, OrcLayout layout);

// How well a table reads under one layout (for diagnostics and the detector).
struct OrcLayoutScore {
  OrcLayout layout = OrcLayout::kV6_4;
  size_t entries = 0;
  size_t plausible = 0;  // CALL frames based on SP or BP: nearly every entry of a real table
  size_t invalid = 0;    // unknown numbers, registers no rule may use there, stray high bits
};
OrcLayoutScore ScoreOrcLayout(std::span<const RawOrcEntry> raw, OrcLayout layout);

// The layout under which `raw` is a plausible ORC table (most entries SP/BP-based CALL frames,
// next to no undecodable ones), or FailedPrecondition saying why none fits.
absl::StatusOr<OrcLayout> DetectOrcLayout(std::span<const RawOrcEntry> raw);

}  // namespace kfreeze
