// Which deadlines and sections one freeze runs with: daemon defaults, overridden by the target's
// config, overridden by the request.
#pragma once

#include <chrono>

#include "core/dump/freeze_session.h"
#include "kfreeze/v1/config.pb.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::server {

struct FreezeDefaults {
  std::chrono::milliseconds soft_deadline{2000};
  std::chrono::milliseconds hard_grace{1000};
  std::chrono::milliseconds control_timeout{1000};
  std::chrono::milliseconds regs_timeout{1000};
  std::chrono::milliseconds decode_deadline = dump::kDefaultDecodeDeadline;
};

FreezeDefaults DefaultsFromConfig(const kfreeze::v1::FreezeDefaults& config);

// Deadlines, keep_paused and sections; the caller adds what belongs to the daemon and the
// attachment (cancel flag, active pauses, pause_held, symbolizer).
dump::FreezeOptions ResolveFreezeOptions(const FreezeDefaults& defaults,
                                         const kfreeze::v1::TargetConfig& target,
                                         const kfreeze::v1::FreezeRequest& request);

}  // namespace kfreeze::server
