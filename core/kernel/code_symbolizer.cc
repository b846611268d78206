#include "core/kernel/code_symbolizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kfreeze {
namespace {

// nm letters of code when the text bounds are unknown ('w'/'W': weak functions).
bool IsTextType(char type) {
  const char t = absl::ascii_tolower(type);
  return t == 't' || t == 'w';
}

}  // namespace

CodeSymbolizer::CodeSymbolizer(const SymbolIndex& kernel, const ModuleMap* modules,
                               const BpfKsyms* bpf)
    : kernel_(kernel), modules_(modules), bpf_(bpf) {
  auto range = [&](absl::string_view begin, absl::string_view end) -> std::optional<Range> {
    std::optional<Kva> b = kernel.Address(begin), e = kernel.Address(end);
    if (!b || !e || *e <= *b) return std::nullopt;
    return Range{b->value, e->value};
  };
  text_ = range("_stext", "_etext");
  init_text_ = range("_sinittext", "_einittext");
}

bool CodeSymbolizer::IsVmlinuxText(uint64_t pc) const {
  return (text_ && text_->Contains(pc)) || (init_text_ && init_text_->Contains(pc));
}

std::optional<CodeLocation> CodeSymbolizer::LookupVmlinux(uint64_t pc) const {
  std::optional<SymbolExtent> at = kernel_.LookupExtent(Kva(pc));
  if (!at) return std::nullopt;
  uint64_t size;
  if (text_) {
    if (!IsVmlinuxText(pc)) return std::nullopt;
    // Past the highest symbol the kernel ends the symbol at its section's end.
    const Range& section = init_text_ && init_text_->Contains(pc) ? *init_text_ : *text_;
    size = at->size.value_or(section.end - at->symbol.address.value);
  } else {
    // No bounds: only a text symbol with a known end may claim pc.
    if (!IsTextType(at->symbol.type) || !at->size || at->offset >= *at->size) return std::nullopt;
    size = *at->size;
  }
  return CodeLocation{CodeLocation::Where::kVmlinux, std::string(at->symbol.name), at->offset, size,
                      ""};
}

CodeLocation CodeSymbolizer::Lookup(uint64_t pc) const {
  if (std::optional<CodeLocation> v = LookupVmlinux(pc)) return *std::move(v);
  if (modules_ != nullptr) {
    if (const GuestModule* m = modules_->Find(pc)) {
      // A module without a symbol for pc prints as hex, as in the kernel.
      if (std::optional<ModuleSymbolHit> hit = ModuleMap::Symbolize(*m, pc)) {
        return CodeLocation{CodeLocation::Where::kModule, std::string(hit->name), hit->offset,
                            hit->size, m->name};
      }
    }
  }
  if (bpf_ != nullptr) {
    if (const BpfKsym* k = bpf_->Find(pc)) {
      return CodeLocation{CodeLocation::Where::kBpf, k->name, pc - k->start, k->end - k->start, ""};
    }
  }
  return CodeLocation{};
}

// __sprint_symbol: look up pc + symbol_offset, print the offset of pc.
std::string CodeSymbolizer::FormatWith(uint64_t pc, int64_t symbol_offset) const {
  const CodeLocation loc = Lookup(pc + static_cast<uint64_t>(symbol_offset));
  if (loc.where == CodeLocation::Where::kNone) return absl::StrFormat("0x%x", pc);
  // The kernel's "%#lx" prints 0 as "0x0", unlike C's.
  std::string out = absl::StrFormat("%s+0x%x/0x%x", loc.name,
                                    loc.offset - static_cast<uint64_t>(symbol_offset), loc.size);
  if (loc.where == CodeLocation::Where::kModule) absl::StrAppend(&out, " [", loc.module, "]");
  return out;
}

std::string CodeSymbolizer::Format(uint64_t pc) const { return FormatWith(pc, 0); }

std::string CodeSymbolizer::FormatReturnAddress(uint64_t pc) const { return FormatWith(pc, -1); }

bool CodeSymbolizer::IsGeneratedCode(uint64_t pc) const {
  return bpf_ != nullptr && bpf_->Find(pc) != nullptr;
}

}  // namespace kfreeze
