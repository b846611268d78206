#include "core/btf_render/hex.h"

namespace kfreeze::btf_render {

std::string HexBytes(absl::Span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  if (bytes.empty()) return out;
  out.resize(bytes.size() * 3 - 1);
  char* p = out.data();
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) *p++ = ' ';
    *p++ = kDigits[bytes[i] >> 4];
    *p++ = kDigits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace kfreeze::btf_render
