// SymbolIndex construction and lookups.
#include "core/kernel/symbols.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kfreeze {

SymbolIndex::SymbolIndex(std::vector<Entry> entries) {
  Packed packed;
  size_t bytes = 0;
  for (const Entry& e : entries) bytes += e.name.size();
  packed.arena.reserve(bytes);
  packed.recs.reserve(entries.size());
  for (const Entry& e : entries) {
    packed.recs.push_back({static_cast<uint32_t>(packed.arena.size()),
                           static_cast<uint32_t>(e.name.size()), e.address, e.type});
    packed.arena += e.name;
  }
  *this = SymbolIndex(std::move(packed));
}

SymbolIndex::SymbolIndex(Packed packed)
    : arena_(std::make_unique<const std::string>(std::move(packed.arena))),
      recs_(std::move(packed.recs)) {
  Index();
}

void SymbolIndex::Index() {
  const uint32_t n = static_cast<uint32_t>(recs_.size());
  by_name_.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    auto [it, inserted] = by_name_.try_emplace(NameOf(i), i);
    if (!inserted && !absl::ascii_isupper(recs_[it->second].type) &&
        absl::ascii_isupper(recs_[i].type)) {
      it->second = i;
    }
  }
  bool sorted = true;
  for (uint32_t i = 1; i < n && sorted; ++i) sorted = AddressOf(i - 1) <= AddressOf(i);
  if (sorted) return;
  by_address_.resize(n);
  std::iota(by_address_.begin(), by_address_.end(), 0u);
  std::stable_sort(by_address_.begin(), by_address_.end(),
                   [this](uint32_t a, uint32_t b) { return AddressOf(a) < AddressOf(b); });
}

Symbol SymbolIndex::at(size_t i) const {
  const Packed::Rec& r = recs_[i];
  return Symbol{NameOf(static_cast<uint32_t>(i)), Kva(r.address), r.type};
}

std::optional<Symbol> SymbolIndex::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return at(it->second);
}

std::optional<Kva> SymbolIndex::Address(absl::string_view name) const {
  if (std::optional<Symbol> s = Find(name)) return s->address;
  return std::nullopt;
}

std::optional<Kva> SymbolIndex::Address(std::initializer_list<absl::string_view> names) const {
  for (absl::string_view name : names) {
    if (std::optional<Kva> a = Address(name)) return a;
  }
  return std::nullopt;
}

absl::StatusOr<Kva> SymbolIndex::Require(absl::string_view name) const {
  std::optional<Symbol> s = Find(name);
  if (!s) return absl::NotFoundError(absl::StrCat("kernel symbol '", name, "' not found"));
  return s->address;
}

std::vector<Symbol> SymbolIndex::FindAll(absl::string_view name) const {
  std::vector<Symbol> out;
  for (uint32_t i = 0; i < recs_.size(); ++i) {
    if (NameOf(i) == name) out.push_back(at(i));
  }
  return out;
}

std::optional<SymbolAtAddress> SymbolIndex::Lookup(Kva address, uint64_t max_offset) const {
  const uint32_t n = static_cast<uint32_t>(recs_.size());
  auto index_at = [this](uint32_t pos) { return by_address_.empty() ? pos : by_address_[pos]; };
  // First position whose address is above `address`.
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (AddressOf(index_at(mid)) <= address.value) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return std::nullopt;
  const Symbol s = at(index_at(lo - 1));
  const uint64_t offset = address - s.address;
  if (offset >= max_offset) return std::nullopt;
  return SymbolAtAddress{s, offset};
}

std::optional<SymbolExtent> SymbolIndex::LookupExtent(Kva address) const {
  const uint32_t n = static_cast<uint32_t>(recs_.size());
  auto index_at = [this](uint32_t pos) { return by_address_.empty() ? pos : by_address_[pos]; };
  // First position whose address is above `bound`.
  auto upper = [&](uint64_t bound) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (AddressOf(index_at(mid)) <= bound) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  };
  const uint32_t next = upper(address.value);
  if (next == 0) return std::nullopt;
  const uint64_t start = AddressOf(index_at(next - 1));
  // The first alias at `start` follows every symbol below it (at 0 there is nothing below).
  const uint32_t first = start == 0 ? 0 : upper(start - 1);
  SymbolExtent out{at(index_at(first)), address.value - start, std::nullopt};
  if (next < n) out.size = AddressOf(index_at(next)) - start;
  return out;
}

}  // namespace kfreeze
