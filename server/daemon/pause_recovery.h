// Resuming a VM that kfreezed paused but can no longer resume itself: by the resumer process when
// kfreezed died (resumer.h), and by a restarted kfreezed for the pause markers it finds
// (pause_markers.h). Only a VM whose run state is exactly "paused" gets a `cont`: any other state
// (running, io-error, postmigrate, shutdown, ...) is not the pause kfreeze made.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/daemon/pause_markers.h"

namespace kfreeze::server {

struct PauseRecovery {
  enum class Outcome {
    kResumed,      // it was paused; `cont` sent and query-status confirmed it runs
    kWasRunning,   // nothing to do
    kOtherState,   // not running and not "paused": left alone
    kVmGone,       // no socket, or nobody listening on it
    kUnreachable,  // QMP did not answer within the budget, or `cont` failed
  };
  Outcome outcome = Outcome::kUnreachable;
  std::string detail;  // the run state seen, or the last error
};

// Connects to `qmp_socket`, retrying until `connect_budget` passes (QEMU accepts one client at a
// time: a dead client's connection must be torn down first), then resumes the VM if it is paused.
PauseRecovery ResumeOwnPause(const std::string& qmp_socket, absl::Duration connect_budget);
// ResumeOwnPause on every socket at once (one stuck VMM must not delay the others); results in
// the order of `qmp_sockets`.
std::vector<PauseRecovery> ResumeOwnPauses(const std::vector<std::string>& qmp_sockets,
                                           absl::Duration connect_budget);

// "resumed (now running)", "VM gone (connect ...: No such file or directory)", ...
std::string Describe(const PauseRecovery& r);

// At startup: for each marker of a dead owner from this boot, ResumeOwnPause (all in parallel),
// logging "reconciled", and the marker is removed unless QMP was unreachable. Markers of a live
// owner are left alone; markers of an earlier boot are removed. Returns how many VMs it resumed.
int ReconcilePauseMarkers(const PauseMarkers& markers, absl::Duration connect_budget);

}  // namespace kfreeze::server
