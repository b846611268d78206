// `info registers -a` text from QEMU's HMP: parsed or refused, never a crash.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/dump/hmp_registers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)kfreeze::dump::ParseHmpRegisters(text);
  return 0;
}
