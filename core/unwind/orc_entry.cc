#include "core/unwind/orc_entry.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kfreeze {
namespace {

// Register numbers of kPre6_4 and kV6_4 (unchanged from 4.14 until 7.1).
OrcReg ClassicReg(unsigned n) {
  static constexpr OrcReg kRegs[] = {
      OrcReg::kUndefined, OrcReg::kPrevSp, OrcReg::kDx,  OrcReg::kDi,         OrcReg::kBp,
      OrcReg::kSp,        OrcReg::kR10,    OrcReg::kR13, OrcReg::kBpIndirect, OrcReg::kSpIndirect,
  };
  return n < std::size(kRegs) ? kRegs[n] : OrcReg::kUnknown;
}

// The 7.1 numbering (see OrcLayout::kV7_1).
OrcReg V7_1Reg(unsigned n) {
  static constexpr OrcReg kRegs[] = {
      OrcReg::kUndefined, OrcReg::kAx,         OrcReg::kDx,         OrcReg::kSp,
      OrcReg::kBp,        OrcReg::kDi,         OrcReg::kR10,        OrcReg::kR13,
      OrcReg::kPrevSp,    OrcReg::kSpIndirect, OrcReg::kBpIndirect,
  };
  return n < std::size(kRegs) ? kRegs[n] : OrcReg::kUnknown;
}

OrcType TypedType(unsigned n) {
  static constexpr OrcType kTypes[] = {OrcType::kUndefined, OrcType::kEndOfStack, OrcType::kCall,
                                       OrcType::kRegs, OrcType::kRegsPartial};
  return n < std::size(kTypes) ? kTypes[n] : OrcType::kUnknown;
}

// Bits of the u16 that no layout uses; a real table leaves them zero.
uint16_t StrayBits(uint16_t bits, OrcLayout layout) {
  return layout == OrcLayout::kPre6_4 ? (bits & 0xf800) : (bits & 0xf000);
}

double Percent(size_t part, size_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

}  // namespace

absl::string_view OrcLayoutName(OrcLayout layout) {
  switch (layout) {
    case OrcLayout::kPre6_4:
      return "pre-6.4 (type:2 + end bit)";
    case OrcLayout::kV6_4:
      return "6.4 (type:3 + signal, classic registers)";
    case OrcLayout::kV7_1:
      return "7.1 (type:3 + signal, renumbered registers)";
  }
  return "?";
}

absl::string_view OrcRegName(OrcReg reg) {
  switch (reg) {
    case OrcReg::kUndefined:
      return "undefined";
    case OrcReg::kPrevSp:
      return "prev_sp";
    case OrcReg::kAx:
      return "ax";
    case OrcReg::kDx:
      return "dx";
    case OrcReg::kDi:
      return "di";
    case OrcReg::kBp:
      return "bp";
    case OrcReg::kSp:
      return "sp";
    case OrcReg::kR10:
      return "r10";
    case OrcReg::kR13:
      return "r13";
    case OrcReg::kBpIndirect:
      return "bp_indirect";
    case OrcReg::kSpIndirect:
      return "sp_indirect";
    case OrcReg::kUnknown:
      return "unknown";
  }
  return "?";
}

absl::string_view OrcTypeName(OrcType type) {
  switch (type) {
    case OrcType::kUndefined:
      return "undefined";
    case OrcType::kEndOfStack:
      return "end_of_stack";
    case OrcType::kCall:
      return "call";
    case OrcType::kRegs:
      return "regs";
    case OrcType::kRegsPartial:
      return "regs_partial";
    case OrcType::kUnknown:
      return "unknown";
  }
  return "?";
}

OrcEntry DecodeOrcEntry(const RawOrcEntry& raw, OrcLayout layout) {
  OrcEntry e;
  std::memcpy(&e.sp_offset, raw.data(), 2);
  std::memcpy(&e.bp_offset, raw.data() + 2, 2);
  const uint16_t bits = static_cast<uint16_t>(raw[4] | (raw[5] << 8));
  const unsigned sp_reg = bits & 0xf, bp_reg = (bits >> 4) & 0xf;
  switch (layout) {
    case OrcLayout::kPre6_4: {
      e.sp_reg = ClassicReg(sp_reg);
      e.bp_reg = ClassicReg(bp_reg);
      const unsigned type = (bits >> 8) & 0x3;
      const bool end = (bits >> 10) & 1;
      // No type for "undefined" or "end" yet: an UNDEFINED sp_reg said it, the end bit told which.
      if (e.sp_reg == OrcReg::kUndefined) {
        e.type = end ? OrcType::kEndOfStack : OrcType::kUndefined;
      } else {
        e.type = type == 0   ? OrcType::kCall
                 : type == 1 ? OrcType::kRegs
                 : type == 2 ? OrcType::kRegsPartial
                             : OrcType::kUnknown;
      }
      // Before the signal bit, the unwinder treated exactly the pt_regs frames as signal frames.
      e.signal = e.type == OrcType::kRegs || e.type == OrcType::kRegsPartial;
      break;
    }
    case OrcLayout::kV6_4:
    case OrcLayout::kV7_1:
      e.sp_reg = layout == OrcLayout::kV6_4 ? ClassicReg(sp_reg) : V7_1Reg(sp_reg);
      e.bp_reg = layout == OrcLayout::kV6_4 ? ClassicReg(bp_reg) : V7_1Reg(bp_reg);
      e.type = TypedType((bits >> 8) & 0x7);
      e.signal = (bits >> 11) & 1;
      break;
  }
  if (StrayBits(bits, layout) != 0) e.type = OrcType::kUnknown;
  return e;
}

OrcLayoutScore ScoreOrcLayout(std::span<const RawOrcEntry> raw, OrcLayout layout) {
  OrcLayoutScore score;
  score.layout = layout;
  score.entries = raw.size();
  for (const RawOrcEntry& r : raw) {
    const OrcEntry e = DecodeOrcEntry(r, layout);
    // The kernel restores bp only from nothing, the CFA or bp itself, and never bases the CFA
    // on itself: anything else is a misread number.
    const bool bp_ok =
        e.bp_reg == OrcReg::kUndefined || e.bp_reg == OrcReg::kPrevSp || e.bp_reg == OrcReg::kBp;
    if (e.sp_reg == OrcReg::kUnknown || e.sp_reg == OrcReg::kPrevSp || !bp_ok ||
        e.type == OrcType::kUnknown) {
      ++score.invalid;
    } else if (e.type == OrcType::kCall && (e.sp_reg == OrcReg::kSp || e.sp_reg == OrcReg::kBp)) {
      ++score.plausible;
    }
  }
  return score;
}

absl::StatusOr<OrcLayout> DetectOrcLayout(std::span<const RawOrcEntry> raw) {
  // Real tables: 75-90% SP/BP CALL frames, ~12% UNDEFINED gaps, a few hundred entry-code frames,
  // no undecodable ones. A wrong layout turns the dominant CALL/SP pair into something else
  // (REGS_PARTIAL, DI-based, an unknown register), so the winner is never close.
  constexpr size_t kMinEntries = 8;
  constexpr double kMinPlausiblePercent = 50.0;
  constexpr double kMaxInvalidPercent = 2.0;
  if (raw.size() < kMinEntries) {
    return absl::FailedPreconditionError(
        absl::StrCat("ORC table has only ", raw.size(), " entries; too few to tell its layout"));
  }
  const OrcLayout kAll[] = {OrcLayout::kV7_1, OrcLayout::kV6_4, OrcLayout::kPre6_4};
  const OrcLayoutScore* best = nullptr;
  OrcLayoutScore scores[std::size(kAll)];
  std::string tried;
  for (size_t i = 0; i < std::size(kAll); ++i) {
    scores[i] = ScoreOrcLayout(raw, kAll[i]);
    const OrcLayoutScore& s = scores[i];
    absl::StrAppend(
        &tried, tried.empty() ? "" : "; ", OrcLayoutName(s.layout), ": ",
        absl::StrFormat("%.1f%% SP/BP call frames, %.1f%% undecodable",
                        Percent(s.plausible, s.entries), Percent(s.invalid, s.entries)));
    if (Percent(s.plausible, s.entries) < kMinPlausiblePercent ||
        Percent(s.invalid, s.entries) > kMaxInvalidPercent) {
      continue;
    }
    if (best == nullptr || s.plausible > best->plausible) best = &scores[i];
  }
  if (best == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("ORC table of ", raw.size(),
                     " entries is implausible under every known layout (", tried, ")"));
  }
  for (const OrcLayoutScore& s : scores) {
    // Two layouts both reading as plausible means the data cannot tell them apart.
    if (&s != best && Percent(s.invalid, s.entries) <= kMaxInvalidPercent &&
        s.plausible * 10 > best->plausible * 9) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ORC table of ", raw.size(), " entries is ambiguous between layouts (", tried, ")"));
    }
  }
  return best->layout;
}

}  // namespace kfreeze
