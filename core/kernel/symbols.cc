// SymbolIndex construction and lookups.
#include "core/kernel/symbols.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kfreeze {

SymbolIndex::SymbolIndex(std::vector<Entry> entries) {
  names_.reserve(entries.size());
  symbols_.reserve(entries.size());
  for (Entry& e : entries) names_.push_back(std::move(e.name));
  by_name_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    symbols_.push_back(Symbol{names_[i], Kva(entries[i].address), entries[i].type});
    auto [it, inserted] = by_name_.try_emplace(names_[i], static_cast<uint32_t>(i));
    if (!inserted && !absl::ascii_isupper(symbols_[it->second].type) &&
        absl::ascii_isupper(entries[i].type)) {
      it->second = static_cast<uint32_t>(i);
    }
  }
  by_address_.resize(symbols_.size());
  for (uint32_t i = 0; i < by_address_.size(); ++i) by_address_[i] = i;
  std::stable_sort(by_address_.begin(), by_address_.end(), [this](uint32_t a, uint32_t b) {
    return symbols_[a].address < symbols_[b].address;
  });
}

std::optional<Symbol> SymbolIndex::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return symbols_[it->second];
}

absl::StatusOr<Kva> SymbolIndex::Require(absl::string_view name) const {
  std::optional<Symbol> s = Find(name);
  if (!s) return absl::NotFoundError(absl::StrCat("kernel symbol '", name, "' not found"));
  return s->address;
}

std::vector<Symbol> SymbolIndex::FindAll(absl::string_view name) const {
  std::vector<Symbol> out;
  for (const Symbol& s : symbols_) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

std::optional<SymbolAtAddress> SymbolIndex::Lookup(Kva address, uint64_t max_offset) const {
  auto it = std::upper_bound(by_address_.begin(), by_address_.end(), address,
                             [this](Kva a, uint32_t i) { return a < symbols_[i].address; });
  if (it == by_address_.begin()) return std::nullopt;
  const Symbol& s = symbols_[*std::prev(it)];
  uint64_t offset = address - s.address;
  if (offset >= max_offset) return std::nullopt;
  return SymbolAtAddress{s, offset};
}

}  // namespace kfreeze
