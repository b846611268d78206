// arm64 page-table construction for synthetic guest images (descriptor formats: Arm ARM D8.3,
// arch/arm64/include/asm/pgtable-hwdef.h).
#include "tests/support/arm64_page_table_builder.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/die.h"

namespace kfreeze::testing {
namespace {

constexpr uint64_t kValid = 1, kTable = 3, kBlock = 1, kPage = 3;
constexpr uint64_t kShInner = 3ull << 8, kAf = 1ull << 10, kDbm = 1ull << 51, kPxn = 1ull << 53,
                   kUxn = 1ull << 54, kSoftDirty = 1ull << 55, kSoftSpecial = 1ull << 56;
// Table descriptors: PXNTable (59) and UXNTable (60), as the kernel sets them for its tables.
constexpr uint64_t kTableAttrs = (1ull << 59) | (1ull << 60);

[[noreturn]] void Die(std::string_view what) { DieInTest("Arm64PageTableBuilder", what); }

}  // namespace

Arm64PageTableBuilder::Arm64PageTableBuilder(PhysMemory& mem, PhysAllocator& alloc,
                                             Arm64Geometry geometry, std::optional<Pa> root)
    : mem_(mem), alloc_(alloc), g_(geometry) {
  absl::StatusOr<std::shared_ptr<const PageTableFormat>> format = Arm64PageTables(g_);
  if (!format.ok()) Die(std::string(format.status().message()));
  levels_ = (*format)->levels();
  root_ = root ? *root : alloc_.Alloc(page_bytes(), page_bytes());
  mem_.Put<uint64_t>(root_, 0);  // materialise the (zero) root page
}

uint64_t Arm64PageTableBuilder::IndexAt(Kva va, int level) const {
  const int bits = level == levels_ - 1 ? g_.va_bits - Shift(level) : g_.page_shift - 3;
  return (va.value >> Shift(level)) & ((1ull << bits) - 1);
}

uint64_t Arm64PageTableBuilder::EncodeAddress(uint64_t pa) const {
  if (!g_.pa52) return pa & ((1ull << 48) - 1);
  if (g_.page_shift == 16) return (pa & ((1ull << 48) - 1)) | ((pa >> 48) & 0xf) << 12;
  return (pa & ((1ull << 50) - 1)) | ((pa >> 50) & 3) << 8;
}

uint64_t Arm64PageTableBuilder::DecodeAddress(uint64_t entry) const {
  uint64_t pa = entry & ((1ull << 48) - 1) & ~(page_bytes() - 1);
  if (!g_.pa52) return pa;
  if (g_.page_shift == 16) return pa | ((entry >> 12) & 0xf) << 48;
  return pa | (entry & (3ull << 48)) | ((entry >> 8) & 3) << 50;
}

Pa Arm64PageTableBuilder::TableFor(Kva va, int level) {
  Pa table = root_;
  for (int l = levels_ - 1; l > level; --l) {
    const Pa entry_pa = table + IndexAt(va, l) * 8;
    uint64_t entry = mem_.GetU64(entry_pa);
    if (!(entry & kValid)) {
      const Pa next = alloc_.Alloc(page_bytes(), page_bytes());
      mem_.Put<uint64_t>(next, 0);
      entry = EncodeAddress(next.value) | kTable | kTableAttrs;
      mem_.Put<uint64_t>(entry_pa, entry);
    } else if ((entry & 3) == kBlock) {
      Die(absl::StrCat("mapping below an existing block at ", Hex(va)));
    }
    table = Pa(DecodeAddress(entry));
  }
  return table;
}

void Arm64PageTableBuilder::Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf) {
  int level = 0;
  while (level < levels_ && LeafBytes(level) != leaf) ++level;
  if (level == levels_ || va.value % leaf || pa.value % leaf || bytes % leaf) {
    Die(absl::StrCat("misaligned or unsupported mapping at ", Hex(va)));
  }
  // Shareability lives in bits [9:8] only without LPA2 (there they are output address bits).
  const uint64_t sh = g_.pa52 && g_.page_shift != 16 ? 0 : kShInner;
  for (uint64_t off = 0; off < bytes; off += leaf) {
    const Kva v = va + off;
    const Pa table = TableFor(v, level);
    const uint64_t attrs = kAf | sh | kDbm | kPxn | kUxn | kSoftDirty | kSoftSpecial;
    const uint64_t entry = EncodeAddress(pa.value + off) | attrs | (level == 0 ? kPage : kBlock);
    mem_.Put<uint64_t>(table + IndexAt(v, level) * 8, entry);
  }
}

Pa Arm64PageTableBuilder::EntryAddress(Kva va, int level) const {
  Pa table = root_;
  for (int l = levels_ - 1; l > level; --l) {
    const uint64_t entry = mem_.GetU64(table + IndexAt(va, l) * 8);
    if ((entry & 3) != kTable) Die(absl::StrCat("no table path for ", Hex(va)));
    table = Pa(DecodeAddress(entry));
  }
  return table + IndexAt(va, level) * 8;
}

}  // namespace kfreeze::testing
