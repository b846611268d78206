// Attaching one target: reuse the cached attachment while its kernel is unchanged, otherwise
// attach again, recording the outcome on the target for ListTargets.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/dump/attachment.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> EnsureAttached(
    const dump::Attacher& attacher, FreezeTarget& target);

// The cached attachment without revalidation or attach work (null when none).
std::shared_ptr<dump::KernelAttachment> CachedAttachment(const FreezeTarget& target);

}  // namespace kfreeze::server
