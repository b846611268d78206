// One thread per target with auto-triggers: drives dump::AutoTrigger against the target's probes,
// capturing through the coordinator (so triggers coalesce with RPC freezes) and publishing the
// assembled dual reports to the archive and WatchDumps. Captures are rate-limited per target (a
// token bucket, TriggerConfig.capture_burst / captures_per_hour): a guest that keeps failing
// cannot keep its VM paused or flood the archive.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/dump/auto_trigger.h"
#include "kfreeze/v1/config.pb.h"
#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/token_bucket.h"

namespace kfreeze::server {

dump::TriggerSettings SettingsFromConfig(const kfreeze::v1::TriggerConfig& config);
// The capture rate limit of `config` (defaults in limits.h), full at `now`.
TokenBucket CaptureBucketFromConfig(const kfreeze::v1::TriggerConfig& config,
                                    TokenBucket::Clock::time_point now);

class TriggerRunner {
 public:
  TriggerRunner(FreezeCoordinator* coordinator, kfreeze::v1::TargetConfig target);
  ~TriggerRunner();  // Stop()
  void Stop();

 private:
  void Loop();

  FreezeCoordinator* const coordinator_;
  const kfreeze::v1::TargetConfig target_;
  // Only the runner thread takes tokens; kept across re-attaches (a rebooting guest too).
  TokenBucket captures_;
  bool rate_limited_ = false;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kfreeze::server
