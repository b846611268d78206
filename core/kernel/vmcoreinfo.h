// The VMCOREINFO ELF note (kernel/vmcore_info.c, arch/x86/kernel/machine_kexec_64.c): found by
// scanning guest RAM page starts, parsed into typed fields. It gives the release, the KASLR slide,
// phys_base, the page-table root, the paging depth and where the kallsyms tables are.
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

struct VmcoreInfo {
  Pa note_pa;  // page where the note header was found
  std::string text;
  std::string osrelease;
  uint64_t page_size = 4096;
  uint64_t kernel_offset = 0;  // KERNELOFFSET: the virtual KASLR slide (hex, no 0x)
  uint64_t phys_base = 0;      // NUMBER(phys_base), printed as a signed decimal
  bool pgtable_l5 = false;     // NUMBER(pgtable_l5_enabled); absent before v4.17 means 4 levels
  absl::flat_hash_map<std::string, uint64_t> symbols;  // SYMBOL(x)=hex
  absl::flat_hash_map<std::string, int64_t> numbers;   // NUMBER(x)=decimal
  absl::flat_hash_map<std::string, int64_t> offsets;   // OFFSET(s.m)=decimal
  absl::flat_hash_map<std::string, int64_t> sizes;     // SIZE(s)=decimal

  std::optional<Kva> Symbol(absl::string_view name) const;
  // The PGD of the kernel page tables: SYMBOL(init_top_pgt), else SYMBOL(swapper_pg_dir).
  absl::StatusOr<Kva> PageTableRoot() const;
  absl::StatusOr<KallsymsLocations> Kallsyms() const;
};

// Parses the note's text ("KEY=value" lines). Requires OSRELEASE, KERNELOFFSET, NUMBER(phys_base).
absl::StatusOr<VmcoreInfo> ParseVmcoreInfo(absl::string_view text);

// Reads and parses the note whose header starts at `pa`.
absl::StatusOr<VmcoreInfo> ReadVmcoreInfoAt(const GuestRam& ram, Pa pa);

// Scans page starts of guest RAM for the note header; candidates that fail to parse are skipped
// (stale copies), and the last parse error is reported when none succeeds.
absl::StatusOr<VmcoreInfo> FindVmcoreInfo(const GuestRam& ram);

}  // namespace kfreeze
