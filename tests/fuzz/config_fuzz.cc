// kfreezed's config file and --target flag: parsed and validated, or refused; never a crash.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "server/daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<kfreeze::v1::Config> config = kfreeze::server::ParseConfigJson(text);
  if (config.ok()) {
    kfreeze::server::ApplyDefaults(*config);
    (void)kfreeze::server::ValidateConfig(*config);
  }
  (void)kfreeze::server::ParseTargetFlag(text);
  return 0;
}
