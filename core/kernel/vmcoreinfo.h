// The VMCOREINFO ELF note (kernel/vmcore_info.c, arch/{x86,arm64}/kernel/...): found by scanning
// guest RAM page starts, parsed into typed fields. It gives the architecture, the release, the
// KASLR slide, what the architecture's translations need (x86-64: phys_base and the paging depth;
// arm64: VA size, kimage_voffset, PHYS_OFFSET, the PAC mask), the page-table root and where the
// kallsyms tables are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"

namespace kfreeze {

// Where the compressed kallsyms tables live (SYMBOL(kallsyms_*) lines, since v6.0 commit
// 5fd8fea935a1 "vmcoreinfo: include kallsyms symbols").
struct KallsymsLocations {
  Kva names, num_syms, token_table, token_index;
  std::optional<Kva> offsets;        // base- or place-relative encodings
  std::optional<Kva> relative_base;  // base-relative only (dropped with place-relative offsets)
  std::optional<Kva> addresses;      // absolute encoding (!CONFIG_KALLSYMS_BASE_RELATIVE)
};

// arm64's translation inputs (arch/arm64/kernel/vmcore_info.c; VA_BITS, kimage_voffset and
// PHYS_OFFSET since v4.12, TCR_EL1_T1SZ since v5.9, KERNELPACMASK since v5.7).
struct Arm64VmcoreInfo {
  uint32_t va_bits = 0;                      // NUMBER(VA_BITS): the configured size (PAGE_OFFSET)
  std::optional<uint32_t> tcr_t1sz;          // NUMBER(TCR_EL1_T1SZ): the size the MMU walks
  uint64_t kimage_voffset = 0;               // image VA - PA
  uint64_t phys_offset = 0;                  // PHYS_OFFSET (memstart_addr; "negative" 48-on-52)
  uint64_t pac_mask = 0;                     // NUMBER(KERNELPACMASK); 0 without pointer auth
  std::optional<uint32_t> max_physmem_bits;  // NUMBER(MAX_PHYSMEM_BITS)

  // PAGE_OFFSET = -(1 << VA_BITS): the start of the linear map.
  uint64_t PageOffset() const { return va_bits >= 64 ? 0 : ~0ull << va_bits; }
  // The VA size of kernel page walks: 64 - T1SZ when the kernel says (it differs from VA_BITS
  // when a 52-bit kernel runs on a CPU without LPA2/LVA), else VA_BITS.
  uint32_t WalkVaBits() const { return tcr_t1sz && *tcr_t1sz < 64 ? 64 - *tcr_t1sz : va_bits; }
};

struct VmcoreInfo {
  Pa note_pa;  // page where the note header was found
  std::string text;
  GuestArch arch = GuestArch::kX86_64;
  std::string osrelease;
  uint64_t page_size = 4096;
  uint64_t kernel_offset = 0;  // KERNELOFFSET: the virtual KASLR slide (hex, no 0x)
  // x86-64
  uint64_t phys_base = 0;   // NUMBER(phys_base), printed as a signed decimal
  bool pgtable_l5 = false;  // NUMBER(pgtable_l5_enabled); absent before v4.17 means 4 levels
  Arm64VmcoreInfo arm64;    // arm64 only
  absl::flat_hash_map<std::string, uint64_t> symbols;  // SYMBOL(x)=hex
  absl::flat_hash_map<std::string, int64_t> numbers;   // NUMBER(x)=decimal
  absl::flat_hash_map<std::string, int64_t> offsets;   // OFFSET(s.m)=decimal
  absl::flat_hash_map<std::string, int64_t> sizes;     // SIZE(s)=decimal

  std::optional<Kva> Symbol(absl::string_view name) const;
  // The top table of the kernel page tables: x86-64 SYMBOL(init_top_pgt), else
  // SYMBOL(swapper_pg_dir) (arm64's only one).
  absl::StatusOr<Kva> PageTableRoot() const;
  absl::StatusOr<KallsymsLocations> Kallsyms() const;
};

// Parses the note's text ("KEY=value" lines). Requires OSRELEASE and KERNELOFFSET, and the
// architecture's keys: NUMBER(phys_base) on x86-64; NUMBER(kimage_voffset), NUMBER(PHYS_OFFSET)
// and NUMBER(VA_BITS) on arm64 (told apart by which are there).
absl::StatusOr<VmcoreInfo> ParseVmcoreInfo(absl::string_view text);

// Reads and parses the note whose header starts at `pa`.
absl::StatusOr<VmcoreInfo> ReadVmcoreInfoAt(const GuestRam& ram, Pa pa);

// Scans page starts of guest RAM for the note header; candidates that fail to parse are skipped
// (stale copies), and the last parse error is reported when none succeeds.
absl::StatusOr<VmcoreInfo> FindVmcoreInfo(const GuestRam& ram);

}  // namespace kfreeze
