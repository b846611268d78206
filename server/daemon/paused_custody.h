// The VM pauses the daemon holds on purpose (keep_paused): only kfreeze's own pause is ever
// resumed, whether by ResumeTarget, a detach, a replaced target or shutdown.
#pragma once

#include <chrono>

#include "absl/status/status.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

// Resumes the VM when the daemon holds its pause; a no-op otherwise.
void ResumeIfPaused(FreezeTarget& target, std::chrono::milliseconds control_timeout);

// ResumeTarget: FAILED_PRECONDITION unless kfreeze holds the pause (someone else's stays theirs).
absl::Status ResumeHeldPause(FreezeTarget& target, std::chrono::milliseconds control_timeout);

}  // namespace kfreeze::server
