// Strings the guest controls (task comm, cgroup names, exit messages) are bytes, not text: a guest
// process can write any bytes to /proc/self/comm. Reports carry them in proto3 `string` fields,
// which must be valid UTF-8 (protobuf refuses to parse anything else), so every guest string is
// made valid where it is read.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace kfreeze {

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view bytes);

// `bytes` with every maximal invalid subsequence replaced by U+FFFD (the Unicode "substitution of
// maximal subparts" practice, as WHATWG decoders do); valid input comes back unchanged.
std::string GuestText(absl::string_view bytes);

}  // namespace kfreeze
