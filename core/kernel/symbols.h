// SymbolIndex: the guest kernel's symbols (decoded from kallsyms), looked up by name or address.
// Names live in one blob; the index is immutable after construction and safe to share.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/base/types.h"

namespace kfreeze {

struct Symbol {
  absl::string_view name;  // owned by the SymbolIndex
  Kva address;
  char type = '?';  // nm-style type letter ('T' text, 'D' data, 'b' local bss, ...)
};

struct SymbolAtAddress {
  Symbol symbol;
  uint64_t offset = 0;  // address - symbol.address
};

// A symbol with its extent as kallsyms_lookup_size_offset sees it.
struct SymbolExtent {
  Symbol symbol;
  uint64_t offset = 0;  // address - symbol.address
  // Next higher-addressed symbol's address - symbol.address; nullopt for the highest symbol.
  std::optional<uint64_t> size;
};

class SymbolIndex {
 public:
  struct Entry {
    std::string name;
    uint64_t address = 0;
    char type = '?';
  };
  // Compact form the kallsyms decoder fills: every name back to back in `names` (no separators),
  // name i spanning [name_end[i-1], name_end[i]). One blob and flat arrays instead of a string and
  // a hash node per symbol: ~13 bytes per symbol plus its name.
  struct Packed {
    std::string names;
    std::vector<uint32_t> name_end;
    std::vector<uint64_t> addresses;
    std::string types;  // nm-style letter per symbol
  };

  SymbolIndex() = default;
  explicit SymbolIndex(std::vector<Entry> entries);
  // The arrays must have one element per symbol (else the index is empty) and `name_end` must be
  // non-decreasing and within `names` (checked; an inconsistent pack yields an empty index).
  explicit SymbolIndex(Packed packed);
  SymbolIndex(SymbolIndex&&) = default;
  SymbolIndex& operator=(SymbolIndex&&) = default;

  size_t size() const { return addresses_.size(); }
  // Symbol i in kallsyms order.
  Symbol at(size_t i) const;

  // A global (upper-case type) symbol wins over a local one of the same name.
  std::optional<Symbol> Find(absl::string_view name) const;
  // The address of Find(name), for walkers that treat an absent symbol as an absent feature.
  std::optional<Kva> Address(absl::string_view name) const;
  // The address of the first of several names a symbol had across releases.
  std::optional<Kva> Address(std::initializer_list<absl::string_view> names) const;
  // NotFound naming the symbol when absent.
  absl::StatusOr<Kva> Require(absl::string_view name) const;
  std::vector<Symbol> FindAll(absl::string_view name) const;
  // The closest symbol at or below `address`, if the distance is below `max_offset`.
  std::optional<SymbolAtAddress> Lookup(Kva address, uint64_t max_offset = 1 << 20) const;
  // The kernel's get_symbol_pos: the closest symbol at or below `address` (the first in kallsyms
  // order among aliases at that address) and its size up to the next higher-addressed symbol.
  // No distance limit: callers bound `address` to the text they know.
  std::optional<SymbolExtent> LookupExtent(Kva address) const;

  // Heap bytes the index holds (names, arrays, the name table), for footprint reports.
  size_t MemoryBytes() const;

 private:
  void Index();
  absl::string_view NameOf(uint32_t i) const {
    const uint32_t begin = i == 0 ? 0 : name_end_[i - 1];
    return absl::string_view(*names_).substr(begin, name_end_[i] - begin);
  }
  uint64_t AddressOf(uint32_t i) const { return addresses_[i]; }
  // Slot of `name` in by_name_: the slot holding its symbol, or the empty slot ending the probe.
  size_t Probe(absl::string_view name, uint64_t hash) const;
  static uint64_t NameHash(absl::string_view name);

  // Heap-held so moving the index never moves the characters the name views point into (a
  // short std::string would carry them along inline).
  std::unique_ptr<const std::string> names_ = std::make_unique<const std::string>();
  std::vector<uint32_t> name_end_;
  std::vector<uint64_t> addresses_;
  std::string types_;
  // Indices in address order; empty when kallsyms order already is (the kernel sorts by address).
  std::vector<uint32_t> by_address_;
  // Open addressing, linear probing, a power-of-two capacity at least twice the symbol count.
  // A slot is the name's hash tag (high 32 bits) and symbol index + 1 (low 32; 0 = empty): a
  // probe compares names only when the tags agree, so collisions cost no trip to the names.
  std::vector<uint64_t> by_name_;
};

}  // namespace kfreeze
