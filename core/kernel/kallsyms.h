// Decodes the kernel's compressed kallsyms tables (kernel/kallsyms.c, scripts/kallsyms.c) straight
// from guest memory into a SymbolIndex. The address encoding is detected from the data: every
// candidate is checked against symbol addresses VMCOREINFO states (e.g. _stext, init_top_pgt).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kernel/symbols.h"
#include "core/kernel/vmcoreinfo.h"
#include "core/mem/reader.h"

namespace kfreeze {

enum class KallsymsEncoding {
  // unsigned long kallsyms_addresses[] (!CONFIG_KALLSYMS_BASE_RELATIVE, removed in v6.11).
  kAbsolute,
  // kallsyms_relative_base + (u32)kallsyms_offsets[i] (v4.6 commit 2213e9a66bb8).
  kBaseRelative,
  // CONFIG_KALLSYMS_ABSOLUTE_PERCPU: offset >= 0 is absolute, else relative_base - 1 - offset.
  kBaseRelativeAbsolutePercpu,
  // &kallsyms_offsets[i] + (s32)kallsyms_offsets[i]: place-relative, no relative_base (v6.x/7.x).
  kPlaceRelative,
};

const char* KallsymsEncodingName(KallsymsEncoding e);

// Known-good addresses to validate an encoding against (name -> runtime address).
using SymbolAnchors = std::vector<std::pair<std::string, Kva>>;

struct KallsymsResult {
  SymbolIndex symbols;
  KallsymsEncoding encoding = KallsymsEncoding::kPlaceRelative;
  uint64_t names_bytes = 0;
  size_t anchors_matched = 0;
};

// Anchors from the SYMBOL(x) lines of VMCOREINFO that give x's own address.
SymbolAnchors AnchorsFromVmcoreInfo(const VmcoreInfo& info);

absl::StatusOr<KallsymsResult> DecodeKallsyms(Reader& reader, const KallsymsLocations& loc,
                                              const SymbolAnchors& anchors);

}  // namespace kfreeze
