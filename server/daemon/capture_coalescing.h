// One capture per target at a time: a Freeze that arrives while one is in flight on the same
// target waits for it and shares its dump (no second pause).
#pragma once

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

struct CoalescedCapture {
  absl::StatusOr<kfreeze::v1::FreezeResponse> result;
  bool led = false;  // this call ran `capture`; false: it joined another call's capture
  int joiners = 0;   // leader only: how many calls joined it
};

// Runs `capture` unless one is in flight on `target`; a joiner's result is marked coalesced.
CoalescedCapture CaptureOrJoin(
    FreezeTarget& target, absl::FunctionRef<absl::StatusOr<kfreeze::v1::FreezeResponse>()> capture);

// Callers waiting on the capture in flight on `target` (0 when none runs).
int JoinersInFlight(const FreezeTarget& target);

// Blocks until the capture in flight on `target` (if any) finished.
void WaitForCaptureInFlight(const FreezeTarget& target);

}  // namespace kfreeze::server
