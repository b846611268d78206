// Copies out of a shared mapping that may shrink under us (the VMM died and truncated its RAM
// file): a SIGBUS inside a guarded copy becomes a `false` return instead of killing the process.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kfreeze::internal {

// memcpy(dst, src, n); false if a SIGBUS interrupted it (dst then holds partial data).
bool GuardedCopy(void* dst, const void* src, size_t n);

// Copies 4 KiB page i from pages[i] to dst + i * 4096 for i < count, with non-temporal stores
// and the next page prefetched (a bulk copy the copier does not read back soon: it keeps the
// cache and runs at memcpy's bulk speed though the pages are scattered). False on SIGBUS.
bool GuardedStreamPages(uint8_t* dst, const uint8_t* const* pages, size_t count);

// Scans `count` blocks of `stride` bytes starting at `base` for the first whose leading
// `len` bytes equal `pattern` under `mask` (len <= 64). Returns the block index, `count` when
// none matched, or -1 if a SIGBUS interrupted the scan.
int64_t GuardedFindBlock(const uint8_t* base, uint64_t count, uint64_t stride,
                         const uint8_t* pattern, const uint8_t* mask, size_t len);

}  // namespace kfreeze::internal
