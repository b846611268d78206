// Builds real x86-64 page tables (4 or 5 levels, 4K/2M/1G leaves) into a PhysMemory, with the
// entry bits a live kernel leaves around (NX, global, accessed/dirty, software bits) so tests
// exercise the Translator's masking.
#pragma once

#include <cstdint>
#include <optional>

#include "core/base/types.h"
#include "tests/support/phys_memory.h"

namespace kfreeze::testing {

inline constexpr uint64_t k4K = 4096;
inline constexpr uint64_t k2M = 2ull << 20;
inline constexpr uint64_t k1G = 1ull << 30;

class PageTableBuilder {
 public:
  // `root` is the PGD page (e.g. where init_top_pgt lives); allocated when absent.
  PageTableBuilder(PhysMemory& mem, PhysAllocator& alloc, int levels, std::optional<Pa> root = {});

  // Maps [va, va+bytes) -> [pa, ...) with leaves of `leaf` bytes (va, pa, bytes leaf-aligned).
  void Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf);
  Pa root() const { return root_; }
  int levels() const { return levels_; }

  // Physical address of the entry that maps `va` at `level` (0 = PTE .. levels-1 = PGD), creating
  // nothing; for tests that corrupt a specific entry. Aborts if the path does not exist.
  Pa EntryAddress(Kva va, int level) const;

 private:
  Pa TableFor(Kva va, int level);  // the table at `level` on va's path, created if missing

  PhysMemory& mem_;
  PhysAllocator& alloc_;
  int levels_;
  Pa root_;
};

}  // namespace kfreeze::testing
