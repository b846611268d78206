// Real arm64 stage-1 tables for synthetic guests: any granule (4K/16K/64K), any VA size the
// hardware walks (39..52 bits), LPA2/LPA output addresses, blocks and pages, with the attribute
// bits a live kernel sets (AF, SH, PXN/UXN, DBM, CONT, software bits, table attributes) so tests
// exercise the Translator's masking.
#pragma once

#include <cstdint>
#include <optional>

#include "core/base/types.h"
#include "core/mem/page_table_format.h"
#include "tests/support/page_table_builder.h"
#include "tests/support/phys_memory.h"

namespace kfreeze::testing {

class Arm64PageTableBuilder final : public PageTableWriter {
 public:
  // `root` is the top table (e.g. swapper_pg_dir's page); allocated when absent.
  Arm64PageTableBuilder(PhysMemory& mem, PhysAllocator& alloc, Arm64Geometry geometry,
                        std::optional<Pa> root = {});

  void Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf) override;
  Pa root() const override { return root_; }
  Pa EntryAddress(Kva va, int level) const override;

  int levels() const { return levels_; }
  uint64_t page_bytes() const { return 1ull << g_.page_shift; }
  // Leaf bytes at `level` (0 = page, 1 = first block size, ...).
  uint64_t LeafBytes(int level) const { return 1ull << Shift(level); }
  // An entry's descriptor bits for output address `pa` (the encoding the walk must undo).
  uint64_t EncodeAddress(uint64_t pa) const;

 private:
  int Shift(int level) const { return g_.page_shift + (g_.page_shift - 3) * level; }
  uint64_t IndexAt(Kva va, int level) const;
  uint64_t DecodeAddress(uint64_t entry) const;
  Pa TableFor(Kva va, int level);

  PhysMemory& mem_;
  PhysAllocator& alloc_;
  Arm64Geometry g_;
  int levels_;
  Pa root_;
};

}  // namespace kfreeze::testing
