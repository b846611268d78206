// One target the daemon knows: its config, attach state, the capture in flight on it, the VM
// pause it holds, and the background runners that belong to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/dump/attachment.h"
#include "core/dump/event_timeline.h"
#include "core/dump/vcpu_perf.h"
#include "core/dump/vmm_control.h"
#include "google/protobuf/timestamp.pb.h"
#include "kfreeze/v1/config.pb.h"
#include "kfreeze/v1/service.pb.h"

namespace kfreeze::server {

class TriggerRunner;
class EventSampler;

// One capture in progress on one target; joiners wait on `done` and share `result`.
struct CaptureInFlight {
  absl::Notification done;
  absl::StatusOr<kfreeze::v1::FreezeResponse> result = absl::UnknownError("capture did not finish");
  std::atomic<int> joiners{0};
};

struct FreezeTarget {
  FreezeTarget(kfreeze::v1::TargetConfig c, std::string s);
  ~FreezeTarget();  // stops the runners first: their threads use the fields below
  const kfreeze::v1::TargetConfig config;
  const std::string source;  // "config", "flag" or "rpc"

  // Serialises attach work; state below is read under `mu` without waiting for an attach.
  absl::Mutex attach_mu;
  mutable absl::Mutex mu;
  kfreeze::v1::TargetState state ABSL_GUARDED_BY(mu) = kfreeze::v1::TARGET_STATE_ATTACHING;
  std::string last_error ABSL_GUARDED_BY(mu);
  std::string kernel_release ABSL_GUARDED_BY(mu);
  google::protobuf::Timestamp attached_at ABSL_GUARDED_BY(mu);
  uint64_t attach_us ABSL_GUARDED_BY(mu) = 0;
  // What the attached kernel offers (Target.kernel_features, Target.sections).
  std::optional<kfreeze::v1::ScxKernelFeatures> kernel_features ABSL_GUARDED_BY(mu);
  std::vector<std::string> sections ABSL_GUARDED_BY(mu);
  std::shared_ptr<dump::KernelAttachment> attachment ABSL_GUARDED_BY(mu);
  std::shared_ptr<CaptureInFlight> inflight ABSL_GUARDED_BY(mu);
  // The QMP connection that left the VM paused (keep_paused); reused by the next freeze.
  std::unique_ptr<dump::VmmControl> paused_control ABSL_GUARDED_BY(mu);
  std::string last_dump_id ABSL_GUARDED_BY(mu);
  uint64_t dumps_taken ABSL_GUARDED_BY(mu) = 0;
  absl::Notification first_attach_done;
  // SCX_EV_* samples taken while the guest runs (null when sampling is off).
  std::shared_ptr<dump::EventTimeline> timeline;
  // Hardware counters on the VM's vCPU threads, opened on the first freeze and kept (thread-safe).
  dump::VcpuPerfSource vcpu_perf;
  // Auto-triggers of this target (null when none is enabled); owned here so a detach stops them.
  std::unique_ptr<TriggerRunner> triggers ABSL_GUARDED_BY(mu);
  std::unique_ptr<EventSampler> sampler ABSL_GUARDED_BY(mu);
};

// The Target message ListTargets/GetTarget return.
kfreeze::v1::Target DescribeTarget(const FreezeTarget& target);

// Stops the target's trigger runner and event sampler (joins their threads).
void StopRunners(FreezeTarget& target);

}  // namespace kfreeze::server
