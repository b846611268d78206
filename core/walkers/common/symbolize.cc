#include "core/walkers/common/symbolize.h"

#include "absl/strings/str_format.h"

namespace kfreeze::walkers {

std::optional<std::string> Symbolize(const SymbolIndex& symbols, Kva address) {
  std::optional<SymbolAtAddress> at = symbols.Lookup(address, kMaxSymbolOffset);
  if (!at) return std::nullopt;
  return absl::StrFormat("%s+0x%x", at->symbol.name, at->offset);
}

}  // namespace kfreeze::walkers
