// x86-64 address translation (arch/x86/include/asm/pgtable_types.h for the entry bits).
#include "core/mem/translator.h"

#include "absl/strings/str_cat.h"
#include "core/base/status.h"

namespace kfreeze {
namespace {

constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kPageSizeBit = 1ull << 7;  // _PAGE_PSE: leaf at PUD (1G) or PMD (2M) level
// PTE_PFN_MASK for 52-bit physical addresses; bits 63 (NX) and 62..52 (software/PKEY) dropped.
constexpr uint64_t kPfnMask = 0x000ffffffffff000ull;
const char* const kLevelNames[] = {"PTE", "PMD", "PUD", "P4D", "PGD"};

// The top level is the PGD whether paging has 4 or 5 levels (Linux folds P4D with 4).
const char* LevelName(int level, int levels) {
  return level == levels - 1 ? "PGD" : kLevelNames[level];
}

// The address is canonical for the given number of paging levels.
bool IsCanonical(uint64_t va, int levels) {
  int top_bit = levels == 5 ? 56 : 47;
  int64_t shifted = static_cast<int64_t>(va << (63 - top_bit)) >> (63 - top_bit);
  return static_cast<uint64_t>(shifted) == va;
}

}  // namespace

Translator::Translator(const GuestRam& ram, PagingConfig config)
    : ram_(&ram), config_(std::move(config)) {}

Translator Translator::WithRoot(Pa root) const {
  PagingConfig c = config_;
  c.root = root;
  return Translator(*ram_, c);
}

absl::StatusOr<Translation> Translator::Translate(Kva va, uint64_t* pte_table) const {
  if (pte_table != nullptr) *pte_table = 0;
  if (std::optional<Translation> t = TranslateLinear(va)) return *t;
  return Walk(va, pte_table);
}

absl::StatusOr<uint64_t> Translator::ReadEntry(Kva va, uint64_t table, int level) const {
  const uint64_t index = (va.value >> (12 + 9 * level)) & 511;
  absl::StatusOr<uint64_t> entry = ram_->ReadU64(Pa(table + index * 8));
  if (!entry.ok()) {
    return FaultError(va, absl::StrCat(LevelName(level, config_.levels), " table at ", Hex(table),
                                       " is outside guest RAM"));
  }
  if (!(*entry & kPresent)) {
    return FaultError(va, absl::StrCat(LevelName(level, config_.levels), " entry not present"));
  }
  return entry;
}

absl::StatusOr<Translation> Translator::Walk(Kva va, uint64_t* pte_table) const {
  if (pte_table != nullptr) *pte_table = 0;
  if (!config_.root) return FaultError(va, "no page-table root for a page walk");
  if (config_.levels != 4 && config_.levels != 5) {
    return absl::FailedPreconditionError(
        absl::StrCat("unsupported paging levels ", config_.levels));
  }
  if (!IsCanonical(va.value, config_.levels)) {
    return FaultError(va, absl::StrCat("non-canonical for ", config_.levels, "-level paging"));
  }
  uint64_t table = config_.root->value & kPfnMask;
  for (int level = config_.levels - 1; level >= 0; --level) {
    absl::StatusOr<uint64_t> entry = ReadEntry(va, table, level);
    if (!entry.ok()) return entry.status();
    const bool leaf = level == 0 || (*entry & kPageSizeBit);
    if (leaf) {
      if (level > 2) {
        return FaultError(
            va, absl::StrCat("huge-page bit set in ", LevelName(level, config_.levels), " entry"));
      }
      if (level == 0 && pte_table != nullptr) *pte_table = table;
      const uint64_t leaf_bytes = 1ull << (12 + 9 * level);
      const uint64_t base = *entry & kPfnMask & ~(leaf_bytes - 1);
      const uint64_t off = va.value & (leaf_bytes - 1);
      return Translation{Pa(base + off), leaf_bytes - off, TranslationPath::kPageWalk, leaf_bytes};
    }
    table = *entry & kPfnMask;
  }
  return FaultError(va, "page walk fell through");  // unreachable: level 0 is always a leaf
}

absl::StatusOr<Translation> Translator::WalkPteTable(Kva va, uint64_t pte_table) const {
  absl::StatusOr<uint64_t> entry = ReadEntry(va, pte_table, 0);
  if (!entry.ok()) return entry.status();
  const uint64_t off = va.value & 4095;
  return Translation{Pa((*entry & kPfnMask) + off), 4096 - off, TranslationPath::kPageWalk, 4096};
}

}  // namespace kfreeze
