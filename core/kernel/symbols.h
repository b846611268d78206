// SymbolIndex: the guest kernel's symbols (decoded from kallsyms), looked up by name or address.
// Names live in one arena; the index is immutable after construction and safe to share.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
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
  // Compact form used by the kallsyms decoder: names concatenated in `arena`.
  struct Packed {
    std::string arena;
    struct Rec {
      uint32_t name_offset = 0;
      uint32_t name_length = 0;
      uint64_t address = 0;
      char type = '?';
    };
    std::vector<Rec> recs;
  };

  SymbolIndex() = default;
  explicit SymbolIndex(std::vector<Entry> entries);
  explicit SymbolIndex(Packed packed);
  SymbolIndex(SymbolIndex&&) = default;
  SymbolIndex& operator=(SymbolIndex&&) = default;

  size_t size() const { return recs_.size(); }
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

 private:
  void Index();
  absl::string_view NameOf(uint32_t i) const {
    const Packed::Rec& r = recs_[i];
    return absl::string_view(*arena_).substr(r.name_offset, r.name_length);
  }
  uint64_t AddressOf(uint32_t i) const { return recs_[i].address; }

  // Heap-held so moving the index never moves the characters the name views point into (a
  // short std::string would carry them along inline).
  std::unique_ptr<const std::string> arena_ = std::make_unique<const std::string>();
  std::vector<Packed::Rec> recs_;
  // Indices in address order; empty when kallsyms order already is (the kernel sorts by address).
  std::vector<uint32_t> by_address_;
  absl::flat_hash_map<absl::string_view, uint32_t> by_name_;
};

}  // namespace kfreeze
