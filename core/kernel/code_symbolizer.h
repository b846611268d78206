// CodeSymbolizer: kernel code addresses -> the kernel's own %pS text, over vmlinux kallsyms, the
// module map and the BPF ksyms, looked up in the kernel's order (kallsyms_lookup_buildid):
//   vmlinux  "hrtimer_nanosleep+0xc5/0x1b0"         size = next kallsyms symbol - this one
//   module   "ext4_map_blocks+0x1c/0x5f0 [ext4]"    find_kallsyms_symbol's rule
//   BPF      "bpf_prog_3a0ebb8c3d0d7e6f_lab_enqueue+0x2c/0x90"   size = end - start, no bracket
//   nothing  "0xffffffffc0a01234"
// Unlike a CONFIG_KALLSYMS_ALL kernel, only text resolves: vmlinux addresses outside
// [_stext, _etext) and [_sinittext, _einittext) print as hex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/kernel/bpf_ksyms.h"
#include "core/kernel/modules.h"
#include "core/kernel/symbols.h"

namespace kfreeze {

struct CodeLocation {
  enum class Where { kNone, kVmlinux, kModule, kBpf };
  Where where = Where::kNone;
  std::string name;     // the symbol; empty for kNone
  uint64_t offset = 0;  // pc - symbol start
  uint64_t size = 0;
  std::string module;  // the module's name for kModule
};

class CodeSymbolizer {
 public:
  // Borrows all three (modules and bpf may be null); they must outlive the symbolizer.
  CodeSymbolizer(const SymbolIndex& kernel, const ModuleMap* modules, const BpfKsyms* bpf);

  // What covers pc, or Where::kNone.
  CodeLocation Lookup(uint64_t pc) const;
  // %pS (sprint_symbol).
  std::string Format(uint64_t pc) const;
  // %pB (sprint_backtrace), for return addresses: looks up pc - 1 so a call that ends a function
  // names its caller, then prints the offset of pc itself.
  std::string FormatReturnAddress(uint64_t pc) const;
  // pc is in JIT'd BPF code (programs, trampolines, dispatchers): no ORC covers it.
  bool IsGeneratedCode(uint64_t pc) const;
  // pc is in vmlinux text (the bounds this symbolizer uses).
  bool IsVmlinuxText(uint64_t pc) const;

 private:
  struct Range {
    uint64_t begin = 0, end = 0;
    bool Contains(uint64_t pc) const { return pc >= begin && pc < end; }
  };
  std::optional<CodeLocation> LookupVmlinux(uint64_t pc) const;
  std::string FormatWith(uint64_t pc, int64_t symbol_offset) const;

  const SymbolIndex& kernel_;
  const ModuleMap* modules_;
  const BpfKsyms* bpf_;
  std::optional<Range> text_;       // [_stext, _etext)
  std::optional<Range> init_text_;  // [_sinittext, _einittext)
};

}  // namespace kfreeze
