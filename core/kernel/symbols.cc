// SymbolIndex construction and lookups.
#include "core/kernel/symbols.h"

#include <algorithm>
#include <bit>
#include <numeric>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kfreeze {

SymbolIndex::SymbolIndex(std::vector<Entry> entries) {
  Packed packed;
  size_t bytes = 0;
  for (const Entry& e : entries) bytes += e.name.size();
  packed.names.reserve(bytes);
  packed.name_end.reserve(entries.size());
  packed.addresses.reserve(entries.size());
  packed.types.reserve(entries.size());
  for (const Entry& e : entries) {
    packed.names += e.name;
    packed.name_end.push_back(static_cast<uint32_t>(packed.names.size()));
    packed.addresses.push_back(e.address);
    packed.types.push_back(e.type);
  }
  *this = SymbolIndex(std::move(packed));
}

SymbolIndex::SymbolIndex(Packed packed) {
  const size_t n = packed.addresses.size();
  bool consistent = packed.name_end.size() == n && packed.types.size() == n && n < UINT32_MAX &&
                    packed.names.size() <= UINT32_MAX;
  for (size_t i = 0; consistent && i < n; ++i) {
    consistent = packed.name_end[i] >= (i == 0 ? 0 : packed.name_end[i - 1]) &&
                 packed.name_end[i] <= packed.names.size();
  }
  if (!consistent) return;  // an empty index: nothing half-built to trip over
  names_ = std::make_unique<const std::string>(std::move(packed.names));
  name_end_ = std::move(packed.name_end);
  addresses_ = std::move(packed.addresses);
  types_ = std::move(packed.types);
  Index();
}

uint64_t SymbolIndex::NameHash(absl::string_view name) {
  return absl::Hash<absl::string_view>{}(name);
}

size_t SymbolIndex::Probe(absl::string_view name, uint64_t hash) const {
  const size_t mask = by_name_.size() - 1;
  const uint64_t tag = hash & ~uint64_t{UINT32_MAX};
  size_t slot = hash & mask;
  // The table is at most half full, so an empty slot always ends the probe.
  for (uint64_t e = by_name_[slot]; e != 0; e = by_name_[slot]) {
    if ((e & ~uint64_t{UINT32_MAX}) == tag && NameOf(static_cast<uint32_t>(e) - 1) == name) break;
    slot = (slot + 1) & mask;
  }
  return slot;
}

void SymbolIndex::Index() {
  const uint32_t n = static_cast<uint32_t>(addresses_.size());
  by_name_.assign(std::bit_ceil(std::max<size_t>(2 * static_cast<size_t>(n), 16)), 0);
  for (uint32_t i = 0; i < n; ++i) {
    const uint64_t hash = NameHash(NameOf(i));
    uint64_t& slot = by_name_[Probe(NameOf(i), hash)];
    // A global (upper-case type) wins over a local of the same name.
    if (slot == 0 || (!absl::ascii_isupper(types_[static_cast<uint32_t>(slot) - 1]) &&
                      absl::ascii_isupper(types_[i]))) {
      slot = (hash & ~uint64_t{UINT32_MAX}) | (i + 1);
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

size_t SymbolIndex::MemoryBytes() const {
  return names_->capacity() + name_end_.capacity() * sizeof(uint32_t) +
         addresses_.capacity() * sizeof(uint64_t) + types_.capacity() +
         by_address_.capacity() * sizeof(uint32_t) + by_name_.capacity() * sizeof(uint64_t);
}

Symbol SymbolIndex::at(size_t i) const {
  const uint32_t u = static_cast<uint32_t>(i);
  return Symbol{NameOf(u), Kva(addresses_[u]), types_[u]};
}

std::optional<Symbol> SymbolIndex::Find(absl::string_view name) const {
  if (by_name_.empty()) return std::nullopt;
  const uint64_t slot = by_name_[Probe(name, NameHash(name))];
  if (slot == 0) return std::nullopt;
  return at(static_cast<uint32_t>(slot) - 1);
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
  // Absent names (most lookups) cost one probe, not a scan.
  if (!Find(name)) return out;
  for (uint32_t i = 0; i < size(); ++i) {
    if (NameOf(i) == name) out.push_back(at(i));
  }
  return out;
}
std::optional<SymbolAtAddress> SymbolIndex::Lookup(Kva address, uint64_t max_offset) const {
  const uint32_t n = static_cast<uint32_t>(addresses_.size());
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
  const uint32_t n = static_cast<uint32_t>(addresses_.size());
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
