// Kernel text addresses -> "sym+0xoff" (the kernel's %pS without module or size).
#pragma once

#include <optional>
#include <string>

#include "core/base/types.h"
#include "core/kernel/symbols.h"

namespace kfreeze::walkers {

// A symbol farther than this below the address is no match (the largest x86 kernel functions
// are well under 64 KiB; beyond that we are past the end of text).
inline constexpr uint64_t kMaxSymbolOffset = 64 * 1024;

std::optional<std::string> Symbolize(const SymbolIndex& symbols, Kva address);

}  // namespace kfreeze::walkers
