// One thread per target with auto-triggers: drives dump::AutoTrigger against the target's probes,
// capturing through the coordinator (so triggers coalesce with RPC freezes) and publishing the
// assembled dual reports to the archive and WatchDumps. Captures are rate-limited per target (a
// token bucket, TriggerConfig.capture_burst / captures_per_hour): a guest that keeps failing
// cannot keep its VM paused or flood the archive.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/dump/auto_trigger.h"
#include "core/gdb/stub_watch.h"
#include "kfreeze/v1/config.pb.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/probe_loop.h"
#include "server/daemon/token_bucket.h"

namespace kfreeze::server {

dump::TriggerSettings SettingsFromConfig(const kfreeze::v1::TriggerConfig& config);
// The capture rate limit of `config` (defaults in limits.h), full at `now`.
TokenBucket CaptureBucketFromConfig(const kfreeze::v1::TriggerConfig& config,
                                    TokenBucket::Clock::time_point now);

// What a trigger does with what it caught, bound by the coordinator.
struct TriggerActions {
  // A capture without archiving (coalesces with RPC freezes of the target).
  std::function<absl::StatusOr<kfreeze::v1::FreezeResponse>(const kfreeze::v1::FreezeRequest&,
                                                            kfreeze::v1::Trigger)>
      capture;
  // Archives and streams an assembled report; sets its dump_id.
  std::function<absl::StatusOr<kfreeze::v1::DumpSummary>(kfreeze::v1::DumpEnvelope&)> publish;
  // A capture of a VM the late trigger's watch hit holds paused (FreezeOptions.pause_held: no
  // second `stop`, the freeze resumes it). Null: `capture`.
  std::function<absl::StatusOr<kfreeze::v1::FreezeResponse>(const kfreeze::v1::FreezeRequest&,
                                                            kfreeze::v1::Trigger)>
      capture_held;
};

// TriggerConfig.late_source: whether the late trigger tries a gdbstub watchpoint.
bool LateWatchpointWanted(const kfreeze::v1::TriggerConfig& config);

class TriggerRunner {
 public:
  TriggerRunner(TargetAttachments attachments, TriggerActions actions,
                kfreeze::v1::TargetConfig target);
  void Stop() { loop_.Stop(); }

 private:
  ProbeLoop::Round Arm(const std::shared_ptr<dump::KernelAttachment>& kernel);
  // The late watchpoint's stub (null: why is logged, the late trigger polls).
  std::shared_ptr<gdb::StubWatch> OpenWatch(bool step_past_write);
  absl::StatusOr<kfreeze::v1::DumpEnvelope> Capture(kfreeze::v1::Trigger trigger, bool held);
  void Publish(kfreeze::v1::DumpEnvelope envelope);

  const TriggerActions actions_;
  const kfreeze::v1::TargetConfig target_;
  const dump::TriggerSettings settings_;
  // Only the runner thread takes tokens; kept across re-attaches (a rebooting guest too).
  TokenBucket captures_;
  bool rate_limited_ = false;
  std::string last_watch_error_;  // logged once per distinct reason
  ProbeLoop loop_;                // last: its thread uses the members above
};

}  // namespace kfreeze::server
