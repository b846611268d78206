// Optional host-side symbol sources (System.map, a vmlinux ELF's .symtab) used only to
// cross-check the symbols decoded from guest memory; kfreeze never needs them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kernel/symbols.h"
#include "core/mem/translator.h"

namespace kfreeze {

struct HostSymbol {
  std::string name;
  uint64_t address = 0;  // link-time (unslid)
  char type = '?';
};

// "ffffffff81000000 T _text" lines.
absl::StatusOr<std::vector<HostSymbol>> LoadSystemMap(const std::string& path);
// Defined symbols of the ELF's .symtab (libelf).
absl::StatusOr<std::vector<HostSymbol>> LoadElfSymbols(const std::string& path);

struct HostSymbolCheck {
  std::string source;
  size_t compared = 0;
  size_t mismatched = 0;
  std::vector<std::string> examples;  // first few mismatches, for the error text
};

// Compares every name that is unique on the host side and present in the guest. Kernel-image
// symbols (host address >= `image_from`) are expected at host + kaslr_offset; others (x86-64's
// zero-based per-CPU and absolute ones) unslid.
// Fails (FailedPrecondition) when anything differs or nothing could be compared.
absl::StatusOr<HostSymbolCheck> CrossCheckSymbols(const SymbolIndex& guest,
                                                  const std::vector<HostSymbol>& host,
                                                  uint64_t kaslr_offset, std::string source,
                                                  uint64_t image_from = kStartKernelMap);

}  // namespace kfreeze
