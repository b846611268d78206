// One capture of one target, no coalescing: attach check, control channel (reusing the one that
// holds a kept pause), RunFreeze, then the envelope labelled with the target, trigger, kernel and
// the event-counter window.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/status/statusor.h"
#include "core/dump/attachment.h"
#include "core/dump/resume_guard.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/control_factory.h"
#include "server/daemon/freeze_options.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

// What a capture needs from the daemon; every pointer outlives the capture.
struct CaptureEnvironment {
  const dump::Attacher* attacher = nullptr;
  const ControlFactory* control_factory = nullptr;
  FreezeDefaults defaults;
  // Set at shutdown: walks stop at their next deadline check.
  const std::atomic<bool>* cancel = nullptr;
  // Freezes holding a VM paused right now; shutdown resumes them at once.
  dump::ActivePauses* active_pauses = nullptr;
};

// `prep_us`: attach check + control connect, before the pause (for the log line).
// `pause_held`: the VM is paused by kfreeze already (a watch hit of the late trigger): no run-state
// query, and the freeze resumes it (FreezeOptions.pause_held).
absl::StatusOr<kfreeze::v1::FreezeResponse> CaptureTarget(
    const CaptureEnvironment& env, FreezeTarget& target, const kfreeze::v1::FreezeRequest& request,
    kfreeze::v1::Trigger trigger, uint64_t* prep_us, bool pause_held = false);

}  // namespace kfreeze::server
