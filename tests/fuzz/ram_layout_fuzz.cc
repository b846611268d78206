// RAM layouts from outside text: `info mtree -f` output and the --ram-layout spec. The first byte
// picks the parser, so one corpus covers both; a parsed layout must translate without faults.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/mem/ram_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<kfreeze::RamLayout> layout = data[0] & 1
                                                  ? kfreeze::RamLayout::Parse(text, 1ull << 30)
                                                  : kfreeze::RamLayout::FromMtree(text);
  (void)layout;
  return 0;
}
