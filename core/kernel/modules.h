// ModuleMap: the guest's loaded kernel modules (the `modules` list of struct module) with their
// text ranges, kallsyms symbols and ORC table references, for symbolizing and unwinding module
// code. Modules rarely change, so a caller keeps a ModuleMap and re-reads it only when
// ModuleListFingerprint() differs from fingerprint().
//
// A module whose data is implausible (unreadable symtab, absurd counts, bad text range) stays in
// modules() with `skip_reason` set and is never matched by Find(); only an unreadable list head
// or BTF without struct module fails the whole map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/caps.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"

namespace kfreeze {

// A distro kernel loads ~100-200 modules; 4096 is far past any real system.
inline constexpr size_t kMaxGuestModules = 4096;
// The biggest modules (amdgpu, i915) keep ~60K symbols; 200K bounds a corrupt num_symtab.
inline constexpr uint32_t kMaxModuleSymbols = 200000;
// KSYM_NAME_LEN: the kernel copies at most this many bytes (NUL included) of a symbol name.
inline constexpr size_t kModuleSymbolNameLen = 512;
// One module's string table as far as its kept symbols reach.
inline constexpr uint64_t kMaxModuleStrtabBytes = 16 * caps::kMiB;
// symtab + typetab + strtab bytes of every module together (a distro kernel's ~150 modules read
// ~10 MiB; amdgpu alone ~3 MiB).
inline constexpr uint64_t kMaxModuleMapReadBytes = 64 * caps::kMiB;
// module_memory.size is an unsigned int; a text range above this is corrupt.
inline constexpr uint64_t kMaxModuleTextBytes = 1 * caps::kGiB;
// A module's ORC table size (num_orcs); vmlinux itself has ~300K entries.
inline constexpr uint64_t kMaxModuleOrcEntries = 4 * 1024 * 1024;

struct ModuleOrcRef {
  uint64_t ip_table_kva = 0;   // mod->arch.orc_unwind_ip (int[count], relative to each entry)
  uint64_t orc_table_kva = 0;  // mod->arch.orc_unwind (struct orc_entry[count])
  uint64_t count = 0;          // mod->arch.num_orcs
};

// One kallsyms symbol of a module that lies in its text; the name lives in the module's arena.
struct ModuleSymbol {
  uint64_t address = 0;   // Elf64_Sym.st_value (absolute once the module is loaded)
  uint64_t elf_size = 0;  // Elf64_Sym.st_size (0 for asm labels without .size)
  uint32_t name_offset = 0;
  uint32_t name_length = 0;
  char type = '?';  // nm letter from mod_kallsyms.typetab ('t' text, 'T' exported, 'w' weak)
};

struct GuestModule {
  uint64_t kva = 0;  // struct module
  std::string name;  // valid UTF-8
  int64_t state = -1;
  std::string state_name;                 // "live", "coming", "going", "unformed" or the raw number
  uint64_t text_begin = 0, text_end = 0;  // core text [begin, end)
  // Init text [begin, end) while the module is still initialising; both 0 once freed.
  uint64_t init_text_begin = 0, init_text_end = 0;
  std::optional<ModuleOrcRef> orc;
  std::string orc_unavailable;  // why `orc` is empty
  // Symbols in the text ranges, by address (aliases in symtab order).
  std::vector<ModuleSymbol> symbols;
  std::string symbol_names;         // arena of the symbols' names (valid UTF-8)
  std::string symbols_unavailable;  // why symbols are missing or partial; empty when complete
  std::string skip_reason;          // non-empty: the module is listed but never matched

  bool usable() const { return skip_reason.empty(); }
  bool InCoreText(uint64_t ip) const { return ip >= text_begin && ip < text_end; }
  bool InInitText(uint64_t ip) const { return ip >= init_text_begin && ip < init_text_end; }
  absl::string_view SymbolName(const ModuleSymbol& s) const {
    return absl::string_view(symbol_names).substr(s.name_offset, s.name_length);
  }
};

// A module address resolved as the kernel's find_kallsyms_symbol does.
struct ModuleSymbolHit {
  absl::string_view name;  // owned by the GuestModule
  uint64_t address = 0;    // the symbol's start
  uint64_t offset = 0;     // ip - address
  uint64_t size = 0;       // next symbol (or the end of the text range) - address
};

class ModuleMap {
 public:
  ModuleMap() = default;

  // Walks `modules` (at most kMaxGuestModules). Fails only when the list cannot be walked at all:
  // no `modules` symbol, no struct module layout in BTF, or an unreadable list head.
  static absl::StatusOr<ModuleMap> Read(Reader& reader, const SymbolIndex& symbols,
                                        const OffsetResolver& btf);

  // The usable module whose core or init text holds ip.
  const GuestModule* Find(uint64_t ip) const;
  // The symbol of ip in `module` (the kernel's rule: the closest named, non-mapping symbol at or
  // below ip; size to the next symbol above ip, at most the end of ip's text range).
  static std::optional<ModuleSymbolHit> Symbolize(const GuestModule& module, uint64_t ip);

  const std::vector<GuestModule>& modules() const { return modules_; }
  // What ModuleListFingerprint returned for the list this map was read from.
  uint64_t fingerprint() const { return fingerprint_; }
  // List-level problems (truncated walk, cycle, torn links); modules carry their own reasons.
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  struct Range {
    uint64_t begin = 0, end = 0;
    size_t module = 0;
  };
  void IndexRanges();

  std::vector<GuestModule> modules_;
  std::vector<Range> ranges_;  // text ranges of usable modules, by begin
  uint64_t fingerprint_ = 0;
  std::vector<std::string> problems_;
};

// A cheap digest of the module list: every module's address, state, name, text base and kallsyms
// pointer (which moves to core_kallsyms when init completes), in list order. Equal to a cached
// map's fingerprint() while the list is unchanged.
absl::StatusOr<uint64_t> ModuleListFingerprint(Reader& reader, const SymbolIndex& symbols,
                                               const OffsetResolver& btf);

}  // namespace kfreeze
