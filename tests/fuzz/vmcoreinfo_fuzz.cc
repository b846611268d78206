// VMCOREINFO note text from guest RAM: parsed fully or refused, never a crash or a runaway.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "core/kernel/kallsyms.h"
#include "core/kernel/vmcoreinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kfreeze::VmcoreInfo> info = kfreeze::ParseVmcoreInfo(text);
  if (info.ok()) (void)kfreeze::AnchorsFromVmcoreInfo(*info);
  return 0;
}
