// The one textual form of raw guest bytes in reports: lowercase pairs separated by one space.
#pragma once

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace kfreeze::btf_render {

// "de ad be ef" (empty string for no bytes).
std::string HexBytes(absl::Span<const uint8_t> bytes);

}  // namespace kfreeze::btf_render
