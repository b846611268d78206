// Fixed layout of synthetic kernel images (offsets from _text) and x86-64 address-space bases.
#pragma once

#include <cstdint>

namespace kfreeze::testing {

// v rounded up to a multiple of a; an alignment of 0 leaves v as is.
inline constexpr uint64_t AlignUp(uint64_t v, uint64_t a) {
  return a == 0 ? v : (v + a - 1) / a * a;
}

// Link address of _text is __START_KERNEL_map + 16 MiB (LOAD_PHYSICAL_ADDR), plus the slide.
inline constexpr uint64_t kTextLinkOffset = 0x1000000;
inline constexpr uint64_t kTextBytes = 2ull << 20;
inline constexpr uint64_t kDataOffset = 2ull << 20;  // init_top_pgt is its first page
inline constexpr uint64_t kDataBytes = 2ull << 20;
inline constexpr uint64_t kPerCpuOffset = 4ull << 20;
inline constexpr uint64_t kPerCpuBytes = 256ull << 10;
inline constexpr uint64_t kRodataOffset = 5ull << 20;  // BTF, then the kallsyms tables
inline constexpr uint64_t kImageMinReserve = 6ull << 20;
// CONFIG_NR_CPUS of the synthetic kernel: the length of __per_cpu_offset[].
inline constexpr uint32_t kNrCpusConfig = 64;

// Non-KASLR direct-map and vmalloc bases (Documentation/arch/x86/x86_64/mm.rst).
inline constexpr uint64_t kDirectMapL4 = 0xffff888000000000ull;
inline constexpr uint64_t kDirectMapL5 = 0xff11000000000000ull;
inline constexpr uint64_t kVmallocL4 = 0xffffc90000000000ull;
inline constexpr uint64_t kVmallocL5 = 0xffa0000000000000ull;

}  // namespace kfreeze::testing
