// What kfreezed records about each VM it holds paused, so that no VM stays paused when kfreezed
// dies: a pause marker on disk (for a restarted kfreezed, pause_markers.h) and a line to the
// resumer process (for the moment it dies, resumer.h). TrackPauses() hooks it into every control
// channel the coordinator opens: `stop` is recorded before it is sent, a successful `cont` clears
// it. A VM kfreeze finds paused gets no `stop` (freeze_session.h), so it is never recorded.
#pragma once

#include <memory>
#include <string>

#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/pause_markers.h"
#include "server/daemon/resumer.h"

namespace kfreeze::server {

class PauseLedger {
 public:
  // Either may be null (that safety net is off).
  PauseLedger(std::unique_ptr<PauseMarkers> markers, std::unique_ptr<ResumerProcess> resumer)
      : markers_(std::move(markers)), resumer_(std::move(resumer)) {}

  // Before `stop` of the VM behind `qmp_socket`.
  void Hold(const std::string& qmp_socket);
  // After a `cont` that succeeded.
  void Release(const std::string& qmp_socket);

  ResumerProcess* resumer() { return resumer_.get(); }

 private:
  std::unique_ptr<PauseMarkers> markers_;
  std::unique_ptr<ResumerProcess> resumer_;
};

// `inner`'s control channels, each reporting its `stop` and successful `cont` to `ledger`.
ControlFactory TrackPauses(ControlFactory inner, std::shared_ptr<PauseLedger> ledger);

}  // namespace kfreeze::server
