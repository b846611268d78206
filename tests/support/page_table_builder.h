// Builds real page tables into a PhysMemory: x86-64 (4 or 5 levels, 4K/2M/1G leaves) here, arm64
// in arm64_page_table_builder.h. Entries carry the bits a live kernel leaves around (NX, global,
// accessed/dirty, software bits) so tests exercise the Translator's masking.
#pragma once

#include <cstdint>
#include <optional>

#include "core/base/types.h"
#include "tests/support/phys_memory.h"

namespace kfreeze::testing {

inline constexpr uint64_t k4K = 4096;
inline constexpr uint64_t k2M = 2ull << 20;
inline constexpr uint64_t k1G = 1ull << 30;

// What a guest image needs from its architecture's page-table builder.
class PageTableWriter {
 public:
  virtual ~PageTableWriter() = default;
  // Maps [va, va+bytes) -> [pa, ...) with leaves of `leaf` bytes (va, pa, bytes leaf-aligned).
  virtual void Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf) = 0;
  virtual Pa root() const = 0;
  // Physical address of the entry that maps `va` at `level` (0 = the last level), creating
  // nothing; for tests that corrupt a specific entry. Aborts if the path does not exist.
  virtual Pa EntryAddress(Kva va, int level) const = 0;
};

class PageTableBuilder final : public PageTableWriter {
 public:
  // `root` is the PGD page (e.g. where init_top_pgt lives); allocated when absent.
  PageTableBuilder(PhysMemory& mem, PhysAllocator& alloc, int levels, std::optional<Pa> root = {});

  void Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf) override;
  Pa root() const override { return root_; }
  int levels() const { return levels_; }
  Pa EntryAddress(Kva va, int level) const override;

 private:
  Pa TableFor(Kva va, int level);  // the table at `level` on va's path, created if missing

  PhysMemory& mem_;
  PhysAllocator& alloc_;
  int levels_;
  Pa root_;
};

}  // namespace kfreeze::testing
