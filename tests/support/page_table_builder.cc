// Page-table construction for synthetic guest images.
#include "tests/support/page_table_builder.h"

#include <cstdio>
#include <cstdlib>

namespace kfreeze::testing {
namespace {

constexpr uint64_t kPresent = 1ull << 0, kRw = 1ull << 1, kAccessed = 1ull << 5, kDirty = 1ull << 6,
                   kPse = 1ull << 7, kGlobal = 1ull << 8, kNx = 1ull << 63,
                   kSoftware = 1ull << 58;  // bits 52-62 are ignored by the MMU
constexpr uint64_t kTableFlags = kPresent | kRw | kAccessed | kDirty;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;

[[noreturn]] void Die(const char* what, uint64_t v) {
  std::fprintf(stderr, "page table builder: %s (0x%llx)\n", what,
               static_cast<unsigned long long>(v));
  std::abort();
}

uint64_t IndexAt(Kva va, int level) { return (va.value >> (12 + 9 * level)) & 511; }

}  // namespace

PageTableBuilder::PageTableBuilder(PhysMemory& mem, PhysAllocator& alloc, int levels,
                                   std::optional<Pa> root)
    : mem_(mem), alloc_(alloc), levels_(levels), root_(root ? *root : alloc.Alloc(k4K)) {
  mem_.Put<uint64_t>(root_, 0);  // materialise the (zero) root page
}

Pa PageTableBuilder::TableFor(Kva va, int level) {
  Pa table = root_;
  for (int l = levels_ - 1; l > level; --l) {
    const Pa entry_pa = table + IndexAt(va, l) * 8;
    uint64_t entry = mem_.GetU64(entry_pa);
    if (!(entry & kPresent)) {
      Pa next = alloc_.Alloc(k4K);
      mem_.Put<uint64_t>(next, 0);
      entry = next.value | kTableFlags;
      mem_.Put<uint64_t>(entry_pa, entry);
    } else if (entry & kPse) {
      Die("mapping below an existing huge page at", va.value);
    }
    table = Pa(entry & kAddrMask);
  }
  return table;
}

void PageTableBuilder::Map(Kva va, Pa pa, uint64_t bytes, uint64_t leaf) {
  const int level = leaf == k1G ? 2 : leaf == k2M ? 1 : 0;
  if ((leaf != k4K && leaf != k2M && leaf != k1G) || va.value % leaf || pa.value % leaf ||
      bytes % leaf) {
    Die("misaligned mapping", va.value);
  }
  for (uint64_t off = 0; off < bytes; off += leaf) {
    const Kva v = va + off;
    const Pa table = TableFor(v, level);
    uint64_t entry =
        (pa.value + off) | kPresent | kRw | kAccessed | kDirty | kGlobal | kNx | kSoftware;
    if (level > 0) entry |= kPse;
    mem_.Put<uint64_t>(table + IndexAt(v, level) * 8, entry);
  }
}

Pa PageTableBuilder::EntryAddress(Kva va, int level) const {
  Pa table = root_;
  for (int l = levels_ - 1; l > level; --l) {
    uint64_t entry = mem_.GetU64(table + IndexAt(va, l) * 8);
    if (!(entry & kPresent) || (entry & kPse)) Die("no table path for", va.value);
    table = Pa(entry & kAddrMask);
  }
  return table + IndexAt(va, level) * 8;
}

}  // namespace kfreeze::testing
