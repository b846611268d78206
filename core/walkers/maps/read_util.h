// Best-effort reads for map contents: page by page, keeping the readable prefix on a fault so a
// value that is half mapped renders as Truncated with the bytes we have, never as zeros.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/base/types.h"
#include "core/mem/reader.h"

namespace kfreeze::walkers::maps {

// Reads `size` bytes at `kva` into `out` (resized). On a fault, `out` keeps the prefix read so far
// and the fault is returned.
absl::Status ReadPrefix(Reader& reader, Kva kva, uint64_t size, std::vector<uint8_t>* out);

}  // namespace kfreeze::walkers::maps
