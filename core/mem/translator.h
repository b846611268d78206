// Kernel virtual -> guest physical: two linear ranges (the direct/linear map and the kernel image,
// plain arithmetic whatever the architecture) and a software page walk for everything else, done by
// the guest architecture's PageTableFormat (core/mem/page_table_format.h). The Translator is
// immutable and thread-safe; caching lives in each Reader (one per thread).
// Not checked here: whether the translated page holds what the caller expects.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/guest_ram.h"
#include "core/mem/page_table_format.h"

namespace kfreeze {

// __START_KERNEL_map (arch/x86/include/asm/page_64_types.h).
inline constexpr uint64_t kStartKernelMap = 0xffffffff80000000ull;
// KERNEL_IMAGE_SIZE with CONFIG_RANDOMIZE_BASE: the image lives in the first 1 GiB above the map.
inline constexpr uint64_t kKernelImageMaxSize = 1ull << 30;
// The frame size of guest RAM reads and snapshots (the smallest granule of every architecture).
inline constexpr uint64_t kPageSize = 4096;

// pa = va + pa_delta (mod 2^64) for va in [va_start, va_end); empty when va_end <= va_start.
struct LinearMap {
  uint64_t va_start = 0;
  uint64_t va_end = 0;
  uint64_t pa_delta = 0;

  // `bytes` of virtual addresses from `va` mapped to physical addresses from `pa`.
  static LinearMap Of(uint64_t va, uint64_t bytes, uint64_t pa) {
    return LinearMap{va, va + bytes, pa - va};
  }
  bool Contains(uint64_t va) const {
    return va - va_start < va_end - va_start && va_end > va_start;
  }
};

struct PagingConfig {
  // x86-64: the direct map at page_offset_base; arm64: the linear map at PAGE_OFFSET.
  LinearMap direct_map;
  // x86-64: __START_KERNEL_map + phys_base; arm64: kimage_voffset.
  LinearMap image;
  // Page walk: the root table (init_top_pgt / swapper_pg_dir, or a vCPU's CR3) and its format.
  std::optional<Pa> root;
  std::shared_ptr<const PageTableFormat> format;
};

// x86-64's paging config: the image window linear through phys_base, the direct map at
// page_offset_base over `direct_map_bytes`, 4- or 5-level page tables from `root`.
PagingConfig X86_64Paging(uint64_t phys_base, std::optional<uint64_t> page_offset_base = {},
                          uint64_t direct_map_bytes = 0, std::optional<Pa> root = {},
                          int levels = 4);

enum class TranslationPath : uint8_t { kDirectMap, kKernelImage, kPageWalk };

struct Translation {
  Pa pa;
  // Bytes from `pa` that stay physically contiguous under the same mapping (to the leaf's end).
  uint64_t contiguous = 0;
  TranslationPath path = TranslationPath::kPageWalk;
  // Leaf size for page walks (e.g. 4K, 2M, 1G); 0 for the linear paths.
  uint64_t leaf_bytes = 0;
};

class Translator {
 public:
  Translator(const GuestRam& ram, PagingConfig config);

  // Linear paths first (direct map, then kernel image), then the page walk. `*last_table` (when
  // given) is set to the physical address of the last-level table a page walk ended in, else 0.
  absl::StatusOr<Translation> Translate(Kva va, uint64_t* last_table = nullptr) const;
  // The linear paths alone; nullopt for an address that needs a walk. Inline: most reads of a
  // walk take this path.
  std::optional<Translation> TranslateLinear(Kva va) const {
    if (config_.direct_map.Contains(va.value)) {
      return Translation{Pa(va.value + config_.direct_map.pa_delta),
                         config_.direct_map.va_end - va.value, TranslationPath::kDirectMap, 0};
    }
    if (config_.image.Contains(va.value)) {
      return Translation{Pa(va.value + config_.image.pa_delta), config_.image.va_end - va.value,
                         TranslationPath::kKernelImage, 0};
    }
    return std::nullopt;
  }
  // Page walk only, from config().root.
  absl::StatusOr<Translation> Walk(Kva va, uint64_t* last_table = nullptr) const;
  // The last step of a walk: `va`'s entry in the last-level table at `last_table` (the one an
  // earlier walk of the same region ended in), one read instead of a full walk.
  absl::StatusOr<Translation> WalkLastTable(Kva va, uint64_t last_table) const;
  // Same linear ranges and format, different page-table root.
  Translator WithRoot(Pa root) const;

  const PagingConfig& config() const { return config_; }
  const GuestRam& ram() const { return *ram_; }
  // The leaf sizes a walk can end in (none without a format).
  LeafShifts leaf_shifts() const;

 private:
  const GuestRam* ram_;
  PagingConfig config_;
};

}  // namespace kfreeze
