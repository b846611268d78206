// BpfKsyms: the kernel's symbols of JIT'd BPF code — programs and subprograms
// ("bpf_prog_<tag>_<name>"), trampolines and dispatchers — from the `bpf_kallsyms` list of
// struct bpf_ksym (kernel/bpf/core.c). Programs come and go, so this is read at every pause:
// one list walk, one read per node of the bytes it needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/base/caps.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"

namespace kfreeze {

// bpf_prog_kallsyms_add runs once per program and subprogram; 64K is past any real guest.
inline constexpr size_t kMaxBpfKsyms = 65536;
// KSYM_NAME_LEN: bpf_ksym.name's size since 6.1 and what %pS copies at most (NUL included).
inline constexpr size_t kMaxBpfKsymNameLen = 512;
// A JIT image larger than this is a corrupt range (the BPF program limit is 1M instructions).
inline constexpr uint64_t kMaxBpfKsymBytes = 128 * caps::kMiB;

struct BpfKsym {
  uint64_t kva = 0;             // struct bpf_ksym
  uint64_t start = 0;           // first byte of the JIT image
  uint64_t end = 0;             // start + image length
  std::string name;             // valid UTF-8
  bool prog = false;            // a program or subprogram (false: trampoline, dispatcher)
  bool name_truncated = false;  // no NUL within the name array (cut as strscpy would)
};

class BpfKsyms {
 public:
  BpfKsyms() = default;

  // Fails only without the `bpf_kallsyms` symbol, without struct bpf_ksym in BTF, or when the
  // list head is unreadable; bad nodes and walk problems are recorded in problems().
  static absl::StatusOr<BpfKsyms> Read(Reader& reader, const SymbolIndex& symbols,
                                       const OffsetResolver& btf);

  // The ksym with start <= ip <= end: the kernel's bpf_tree_comp includes `end` so a return
  // address just past a program's final call still resolves to it.
  const BpfKsym* Find(uint64_t ip) const;
  size_t size() const { return ksyms_.size(); }
  // By start address.
  const std::vector<BpfKsym>& ksyms() const { return ksyms_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<BpfKsym> ksyms_;
  std::vector<std::string> problems_;
};

}  // namespace kfreeze
