// One architecture's page tables: how a walk indexes its levels, decodes its entries and which
// leaf sizes it can end in. The Translator calls it only for addresses outside its linear ranges,
// so a virtual call per walk costs nothing next to the walk's own reads.
// Implementations: x86_64_paging.cc, arm64_paging.cc. Entries are guest bytes: every bit pattern
// gives a translation or a fault, never a crash or a read outside guest RAM.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"

namespace kfreeze {

struct Translation;

// The leaf sizes of a format as shifts, ascending (e.g. 12, 21, 30); `count` of them are used.
struct LeafShifts {
  static constexpr int kMax = 4;
  std::array<int, kMax> shift = {};
  int count = 0;
};

class PageTableFormat {
 public:
  virtual ~PageTableFormat() = default;

  // Walks `va` from the table at `root`. `*last_table` (when given) is set to the last-level
  // table the walk ended in when it ended there (a smallest-page leaf), else 0.
  virtual absl::StatusOr<Translation> Walk(const GuestRam& ram, Pa root, Kva va,
                                           uint64_t* last_table) const = 0;
  // `va`'s entry in the last-level table at `last_table`.
  virtual absl::StatusOr<Translation> WalkLastTable(const GuestRam& ram, Kva va,
                                                    uint64_t last_table) const = 0;
  virtual LeafShifts leaf_shifts() const = 0;
  // VA bits one last-level table covers (x86-64 and 4K arm64: 21): keys the Readers' cache of
  // last-level tables.
  virtual int last_table_shift() const = 0;
  virtual int levels() const = 0;
  virtual GuestArch arch() const = 0;
  // One line for inspect and errors, e.g. "x86-64, 5 levels".
  virtual std::string Describe() const = 0;
};

// x86-64 4- or 5-level paging (arch/x86/include/asm/pgtable_types.h).
absl::StatusOr<std::shared_ptr<const PageTableFormat>> X86_64PageTables(int levels);

// arm64 stage-1 translation through TTBR1 (arch/arm64/include/asm/pgtable-hwdef.h).
struct Arm64Geometry {
  int page_shift = 12;  // 12, 14 or 16 (4K, 16K, 64K granule)
  int va_bits = 48;     // bits the walk translates: 64 - TCR_EL1.T1SZ (36..52)
  // 52-bit output addresses: with 4K/16K that is FEAT_LPA2 (TCR.DS; bits [9:8] are OA[51:50],
  // not shareability), with 64K FEAT_LPA (bits [15:12] are OA[51:48]).
  bool pa52 = false;
};
absl::StatusOr<std::shared_ptr<const PageTableFormat>> Arm64PageTables(Arm64Geometry geometry);

}  // namespace kfreeze
