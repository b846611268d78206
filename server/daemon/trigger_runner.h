// One thread per target with auto-triggers: drives dump::AutoTrigger against the target's probes,
// capturing through the coordinator (so triggers coalesce with RPC freezes) and publishing the
// assembled dual reports to the archive and WatchDumps.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/dump/auto_trigger.h"
#include "kfreeze/v1/config.pb.h"
#include "server/daemon/freeze_coordinator.h"

namespace kfreeze::server {

dump::TriggerSettings SettingsFromConfig(const kfreeze::v1::TriggerConfig& config);

class TriggerRunner {
 public:
  TriggerRunner(FreezeCoordinator* coordinator, kfreeze::v1::TargetConfig target);
  ~TriggerRunner();  // Stop()
  void Stop();

 private:
  void Loop();

  FreezeCoordinator* const coordinator_;
  const kfreeze::v1::TargetConfig target_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kfreeze::server
