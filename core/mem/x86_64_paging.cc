// x86-64 page walks (arch/x86/include/asm/pgtable_types.h for the entry bits).
#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/mem/page_table_format.h"
#include "core/mem/translator.h"

namespace kfreeze {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kPageSizeBit = 1ull << 7;  // _PAGE_PSE: leaf at PUD (1G) or PMD (2M) level
// PTE_PFN_MASK for 52-bit physical addresses; bits 63 (NX) and 62..52 (software/PKEY) dropped.
constexpr uint64_t kPfnMask = 0x000ffffffffff000ull;
const char* const kLevelNames[] = {"PTE", "PMD", "PUD", "P4D", "PGD"};

class X86_64Format final : public PageTableFormat {
 public:
  explicit X86_64Format(int levels) : levels_(levels) {}

  absl::StatusOr<Translation> Walk(const GuestRam& ram, Pa root, Kva va,
                                   uint64_t* last_table) const override {
    if (!IsCanonical(va.value)) {
      return FaultError(va, absl::StrCat("non-canonical for ", levels_, "-level paging"));
    }
    uint64_t table = root.value & kPfnMask;
    for (int level = levels_ - 1; level >= 0; --level) {
      absl::StatusOr<uint64_t> entry = ReadEntry(ram, va, table, level);
      if (!entry.ok()) return entry.status();
      const bool leaf = level == 0 || (*entry & kPageSizeBit);
      if (leaf) {
        if (level > 2) {
          return FaultError(va, absl::StrCat("huge-page bit set in ", LevelName(level), " entry"));
        }
        if (level == 0 && last_table != nullptr) *last_table = table;
        const uint64_t leaf_bytes = 1ull << (12 + 9 * level);
        const uint64_t base = *entry & kPfnMask & ~(leaf_bytes - 1);
        const uint64_t off = va.value & (leaf_bytes - 1);
        return Translation{Pa(base + off), leaf_bytes - off, TranslationPath::kPageWalk,
                           leaf_bytes};
      }
      table = *entry & kPfnMask;
    }
    return FaultError(va, "page walk fell through");  // unreachable: level 0 is always a leaf
  }

  absl::StatusOr<Translation> WalkLastTable(const GuestRam& ram, Kva va,
                                            uint64_t last_table) const override {
    absl::StatusOr<uint64_t> entry = ReadEntry(ram, va, last_table, 0);
    if (!entry.ok()) return entry.status();
    const uint64_t off = va.value & 4095;
    return Translation{Pa((*entry & kPfnMask) + off), 4096 - off, TranslationPath::kPageWalk, 4096};
  }

  LeafShifts leaf_shifts() const override { return LeafShifts{{12, 21, 30}, 3}; }
  int last_table_shift() const override { return 21; }
  int levels() const override { return levels_; }
  GuestArch arch() const override { return GuestArch::kX86_64; }
  std::string Describe() const override { return absl::StrCat("x86-64, ", levels_, " levels"); }

 private:
  // The top level is the PGD whether paging has 4 or 5 levels (Linux folds P4D with 4).
  const char* LevelName(int level) const {
    return level == levels_ - 1 ? "PGD" : kLevelNames[level];
  }

  bool IsCanonical(uint64_t va) const {
    const int top_bit = levels_ == 5 ? 56 : 47;
    const int64_t shifted = static_cast<int64_t>(va << (63 - top_bit)) >> (63 - top_bit);
    return static_cast<uint64_t>(shifted) == va;
  }

  // The entry of `va` in the table at `table` (paging level `level`, 0 = PTE).
  absl::StatusOr<uint64_t> ReadEntry(const GuestRam& ram, Kva va, uint64_t table, int level) const {
    const uint64_t index = (va.value >> (12 + 9 * level)) & 511;
    absl::StatusOr<uint64_t> entry = ram.ReadU64(Pa(table + index * 8));
    if (!entry.ok()) {
      return FaultError(
          va, absl::StrCat(LevelName(level), " table at ", Hex(table), " is outside guest RAM"));
    }
    if (!(*entry & kPresent)) {
      return FaultError(va, absl::StrCat(LevelName(level), " entry not present"));
    }
    return entry;
  }

  int levels_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const PageTableFormat>> X86_64PageTables(int levels) {
  if (levels != 4 && levels != 5) {
    return absl::FailedPreconditionError(absl::StrCat("unsupported x86-64 paging levels ", levels));
  }
  return std::make_shared<const X86_64Format>(levels);
}

PagingConfig X86_64Paging(uint64_t phys_base, std::optional<uint64_t> page_offset_base,
                          uint64_t direct_map_bytes, std::optional<Pa> root, int levels) {
  PagingConfig c;
  c.image = LinearMap::Of(kStartKernelMap, kKernelImageMaxSize, phys_base);
  if (page_offset_base) c.direct_map = LinearMap::Of(*page_offset_base, direct_map_bytes, 0);
  c.root = root;
  absl::StatusOr<std::shared_ptr<const PageTableFormat>> format = X86_64PageTables(levels);
  if (format.ok()) c.format = *format;  // else no walks: Translator::Walk says why
  return c;
}

}  // namespace kfreeze
