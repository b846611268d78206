#include "server/daemon/paused_custody.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {

void ResumeIfPaused(FreezeTarget& target, std::chrono::milliseconds control_timeout) {
  std::unique_ptr<dump::VmmControl> control;
  {
    absl::MutexLock lock(&target.mu);
    control = std::move(target.paused_control);
    if (target.state == kfreeze::v1::TARGET_STATE_PAUSED) {
      target.state = kfreeze::v1::TARGET_STATE_ATTACHED;
    }
  }
  if (!control) return;
  absl::Status s = control->Cont(control_timeout);
  if (s.ok()) {
    spdlog::info("target {}: resumed", target.config.name());
  } else {
    spdlog::error("target {}: resume failed: {}", target.config.name(), s.ToString());
  }
}

absl::Status ResumeHeldPause(FreezeTarget& target, std::chrono::milliseconds control_timeout) {
  {
    absl::MutexLock lock(&target.mu);
    if (!target.paused_control) {
      // Includes a VM someone else paused: kfreeze only resumes its own pauses.
      return absl::FailedPreconditionError(
          absl::StrCat("target ", target.config.name(), " is not kept paused by kfreeze"));
    }
  }
  ResumeIfPaused(target, control_timeout);
  return absl::OkStatus();
}

}  // namespace kfreeze::server
