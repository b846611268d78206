// Raw guest bytes held in a proto `bytes` field, in the one textual form kfreeze uses for them
// (btf_render::HexBytes: "de ad be ef").
#pragma once

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/types/span.h"
#include "core/btf_render/hex.h"

namespace kfreeze::report {

inline std::string RawHex(absl::string_view bytes) {
  return btf_render::HexBytes(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace kfreeze::report
