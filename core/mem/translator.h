// Kernel virtual -> guest physical for x86-64 Linux: the kernel image (linear, phys_base), the
// direct map (linear, page_offset_base) and a software 4/5-level page walk for everything else.
// The Translator is immutable and thread-safe; caching lives in each Reader (one per thread).
// Not checked here: whether the translated page holds what the caller expects.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"

namespace kfreeze {

// __START_KERNEL_map (arch/x86/include/asm/page_64_types.h).
inline constexpr uint64_t kStartKernelMap = 0xffffffff80000000ull;
// KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE: the image lives in the first 1 GiB above the map.
inline constexpr uint64_t kKernelImageMaxSize = 1ull << 30;
inline constexpr uint64_t kPageSize = 4096;
// The leaf sizes of an x86-64 page walk (4K, 2M, 1G), as shifts.
inline constexpr int kLeafKinds = 3;
inline constexpr int kLeafShift[kLeafKinds] = {12, 21, 30};

struct PagingConfig {
  // Kernel image: pa = va - __START_KERNEL_map + phys_base for va in [image_start, image_end).
  uint64_t phys_base = 0;
  uint64_t image_start = kStartKernelMap;
  uint64_t image_end = kStartKernelMap + kKernelImageMaxSize;
  // Direct map: pa = va - page_offset_base for va in [page_offset_base, + direct_map_bytes).
  std::optional<uint64_t> page_offset_base;
  uint64_t direct_map_bytes = 0;
  // Page walk root (init_top_pgt's physical address or CR3 & PTE_PFN_MASK) and depth (4 or 5).
  std::optional<Pa> root;
  int levels = 4;
};

enum class TranslationPath : uint8_t { kDirectMap, kKernelImage, kPageWalk };

struct Translation {
  Pa pa;
  // Bytes from `pa` that stay physically contiguous under the same mapping (to the leaf's end).
  uint64_t contiguous = 0;
  TranslationPath path = TranslationPath::kPageWalk;
  // Leaf size for page walks (4K, 2M, 1G); 0 for the linear paths.
  uint64_t leaf_bytes = 0;
};

class Translator {
 public:
  Translator(const GuestRam& ram, PagingConfig config);

  // Linear paths first (direct map, then kernel image), then the page walk. `*pte_table` (when
  // given) is set to the physical address of the PTE table a 4K walk ended in, else 0.
  absl::StatusOr<Translation> Translate(Kva va, uint64_t* pte_table = nullptr) const;
  // The linear paths alone (direct map, kernel image); nullopt for an address that needs a walk.
  // Inline: most reads of a walk take this path.
  std::optional<Translation> TranslateLinear(Kva va) const {
    if (config_.page_offset_base) {
      const uint64_t off = va.value - *config_.page_offset_base;
      if (va.value >= *config_.page_offset_base && off < config_.direct_map_bytes) {
        return Translation{Pa(off), config_.direct_map_bytes - off, TranslationPath::kDirectMap, 0};
      }
    }
    if (va.value >= config_.image_start && va.value < config_.image_end) {
      const uint64_t pa = va.value - kStartKernelMap + config_.phys_base;
      return Translation{Pa(pa), config_.image_end - va.value, TranslationPath::kKernelImage, 0};
    }
    return std::nullopt;
  }
  // Page walk only, from config().root.
  absl::StatusOr<Translation> Walk(Kva va, uint64_t* pte_table = nullptr) const;
  // The last step of a walk: `va`'s entry in the PTE table at `pte_table` (the one an earlier
  // walk of the same 2 MiB region ended in), one read instead of four or five.
  absl::StatusOr<Translation> WalkPteTable(Kva va, uint64_t pte_table) const;
  // Same linear ranges, different page-table root (e.g. a vCPU's CR3 for user addresses).
  Translator WithRoot(Pa root) const;

  const PagingConfig& config() const { return config_; }
  const GuestRam& ram() const { return *ram_; }

 private:
  // Reads the entry of `va` in the table at `table` (paging level `level`, 0 = PTE).
  absl::StatusOr<uint64_t> ReadEntry(Kva va, uint64_t table, int level) const;

  const GuestRam* ram_;
  PagingConfig config_;
};

}  // namespace kfreeze
