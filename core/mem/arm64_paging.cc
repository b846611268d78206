// arm64 stage-1 page walks through TTBR1 (arch/arm64/include/asm/pgtable-hwdef.h; Arm ARM D8).
// Levels are counted from the last (0 = the page table) and named the Arm way in errors
// ("level 3" is the last, "level -1" the fifth of 4K/52-bit LPA2 tables).
#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/mem/page_table_format.h"
#include "core/mem/translator.h"

namespace kfreeze {
namespace {

constexpr uint64_t kValid = 1ull << 0;
constexpr uint64_t kTypeMask = 3;
constexpr uint64_t kTypeBlock = 1;  // upper levels only; reserved (invalid) at the last level
constexpr uint64_t kTypeTableOrPage = 3;
constexpr uint64_t kOutputAddressLow =
    (1ull << 48) - 1;  // OA[47:page_shift] in bits [47:page_shift]

class Arm64Format final : public PageTableFormat {
 public:
  Arm64Format(Arm64Geometry g, int levels) : g_(g), levels_(levels) {}

  absl::StatusOr<Translation> Walk(const GuestRam& ram, Pa root, Kva va,
                                   uint64_t* last_table) const override {
    // TTBR1 addresses: every bit above the walk's VA size is one (no tags without KASAN).
    if (g_.va_bits < 64 && (va.value | ((1ull << g_.va_bits) - 1)) != ~0ull) {
      return FaultError(va, absl::StrCat("not a TTBR1 address for a ", g_.va_bits, "-bit VA"));
    }
    uint64_t table = root.value & ((1ull << 52) - 1) & ~7ull;
    for (int level = levels_ - 1; level >= 0; --level) {
      absl::StatusOr<uint64_t> entry = ReadEntry(ram, va, table, level);
      if (!entry.ok()) return entry.status();
      const uint64_t type = *entry & kTypeMask;
      const bool leaf = level == 0 || type == kTypeBlock;
      if (leaf) {
        if (level == 0 && type != kTypeTableOrPage) {
          return FaultError(va, absl::StrCat(LevelName(level), " entry is a reserved descriptor"));
        }
        if (level > 0 && !BlockAllowed(level)) {
          return FaultError(va, absl::StrCat("block descriptor at ", LevelName(level),
                                             ", where this granule allows none"));
        }
        if (level == 0 && last_table != nullptr) *last_table = table;
        return Leaf(va, *entry, level);
      }
      table = OutputAddress(*entry);
    }
    return FaultError(va, "page walk fell through");  // unreachable: level 0 is always a leaf
  }

  absl::StatusOr<Translation> WalkLastTable(const GuestRam& ram, Kva va,
                                            uint64_t last_table) const override {
    absl::StatusOr<uint64_t> entry = ReadEntry(ram, va, last_table, 0);
    if (!entry.ok()) return entry.status();
    if ((*entry & kTypeMask) != kTypeTableOrPage) {
      return FaultError(va, absl::StrCat(LevelName(0), " entry is a reserved descriptor"));
    }
    return Leaf(va, *entry, 0);
  }

  LeafShifts leaf_shifts() const override {
    LeafShifts s;
    for (int level = 0; level < levels_ && s.count < LeafShifts::kMax; ++level) {
      if (level == 0 || BlockAllowed(level)) s.shift[s.count++] = Shift(level);
    }
    return s;
  }
  int last_table_shift() const override { return Shift(1); }
  int levels() const override { return levels_; }
  GuestArch arch() const override { return GuestArch::kArm64; }
  std::string Describe() const override {
    return absl::StrCat("arm64, ", (1 << g_.page_shift) / 1024, "K granule, ", g_.va_bits,
                        "-bit VA, ", levels_, " levels",
                        g_.pa52 ? (g_.page_shift == 16 ? ", LPA" : ", LPA2") : "");
  }

 private:
  int BitsPerLevel() const { return g_.page_shift - 3; }
  int Shift(int level) const { return g_.page_shift + BitsPerLevel() * level; }
  std::string LevelName(int level) const { return absl::StrCat("level ", 3 - level); }

  // Blocks: 4K at 2M and 1G (512G with LPA2), 16K at 32M (64G with LPA2), 64K at 512M (4T with
  // LPA). Linux maps with the smaller ones; the others are legal and cost nothing to accept.
  bool BlockAllowed(int level) const {
    if (level == 1) return true;
    if (level == 2) return g_.page_shift == 12 || g_.pa52;
    return level == 3 && g_.page_shift == 12 && g_.pa52;
  }

  // The output address of a table, block or page descriptor (PTE_ADDR_LOW | PTE_ADDR_HIGH).
  uint64_t OutputAddress(uint64_t entry) const {
    uint64_t pa = entry & kOutputAddressLow & ~((1ull << g_.page_shift) - 1);
    if (!g_.pa52) return pa;  // bits [9:8] are shareability, [15:12] RES0: never address bits
    if (g_.page_shift == 16) return pa | ((entry >> 12) & 0xf) << 48;
    return pa | (entry & (3ull << 48)) | ((entry >> 8) & 3) << 50;
  }

  Translation Leaf(Kva va, uint64_t entry, int level) const {
    const uint64_t leaf_bytes = 1ull << Shift(level);
    const uint64_t base = OutputAddress(entry) & ~(leaf_bytes - 1);
    const uint64_t off = va.value & (leaf_bytes - 1);
    return Translation{Pa(base + off), leaf_bytes - off, TranslationPath::kPageWalk, leaf_bytes};
  }

  absl::StatusOr<uint64_t> ReadEntry(const GuestRam& ram, Kva va, uint64_t table, int level) const {
    const int shift = Shift(level);
    const int index_bits = level == levels_ - 1 ? g_.va_bits - shift : BitsPerLevel();
    const uint64_t index = (va.value >> shift) & ((1ull << index_bits) - 1);
    absl::StatusOr<uint64_t> entry = ram.ReadU64(Pa(table + index * 8));
    if (!entry.ok()) {
      return FaultError(
          va, absl::StrCat(LevelName(level), " table at ", Hex(table), " is outside guest RAM"));
    }
    if (!(*entry & kValid)) return FaultError(va, absl::StrCat(LevelName(level), " entry invalid"));
    return entry;
  }

  Arm64Geometry g_;
  int levels_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const PageTableFormat>> Arm64PageTables(Arm64Geometry g) {
  if (g.page_shift != 12 && g.page_shift != 14 && g.page_shift != 16) {
    return absl::FailedPreconditionError(
        absl::StrCat("arm64 granule 2^", g.page_shift, " is none of 4K, 16K, 64K"));
  }
  const int bits_per_level = g.page_shift - 3;
  // TCR_EL1.T1SZ 12..39 (a VA of 25..52 bits); at least one full level below the top one.
  if (g.va_bits < g.page_shift + bits_per_level || g.va_bits > 52) {
    return absl::FailedPreconditionError(
        absl::StrCat("arm64 VA size ", g.va_bits, " bits is outside what a walk can translate"));
  }
  if (g.va_bits > 48 && g.page_shift != 16 && !g.pa52) {
    return absl::FailedPreconditionError("a 52-bit VA with a 4K or 16K granule needs LPA2");
  }
  const int levels = (g.va_bits - g.page_shift + bits_per_level - 1) / bits_per_level;
  return std::make_shared<const Arm64Format>(g, levels);
}

}  // namespace kfreeze
