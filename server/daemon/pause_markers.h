// Files that say "kfreezed paused the VM behind this QMP socket and has not resumed it yet", one
// per VM, in a state directory. Written before `stop`, removed once the VM runs again; a kfreezed
// that starts and finds one whose owner is dead resumes that VM (pause_recovery.h). Each marker
// names its owner (pid and start time) and the boot, so a live daemon's pause and a VM of an
// earlier boot are never touched.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace kfreeze::server {

struct PauseMarker {
  std::string path;  // the marker file
  std::string qmp_socket;
  pid_t owner_pid = 0;
  uint64_t owner_start_time = 0;  // /proc/PID/stat field 22 (clock ticks since boot)
  std::string boot_id;
};

class PauseMarkers {
 public:
  // `dir` is created (0700) by the first Write() if needed.
  explicit PauseMarkers(std::string dir) : dir_(std::move(dir)) {}

  // Records a pause by this process; replaces an earlier marker of the same socket.
  absl::Status Write(const std::string& qmp_socket) const;
  // Forgets the pause; absent markers are fine.
  void Remove(const std::string& qmp_socket) const;
  // Every readable marker; unparsable files are logged and skipped.
  std::vector<PauseMarker> List() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string PathOf(const std::string& qmp_socket) const;
  const std::string dir_;
};

// The marker's owner still runs (same pid, same start time): its pause is not abandoned.
bool OwnerAlive(const PauseMarker& marker);
// This boot's /proc/sys/kernel/random/boot_id ("" when unreadable).
std::string CurrentBootId();

// Where markers live when --state-dir is not given: $STATE_DIRECTORY/paused-vms (systemd's
// StateDirectory=; its RuntimeDirectory= is deleted when the service fails, markers included),
// else /run/kfreezed/paused-vms when it can be created, else ARCHIVE_DIR/paused-vms. Markers of
// an earlier boot are recognised by their boot id wherever they live.
std::string DefaultPauseStateDir(const std::string& archive_dir);

}  // namespace kfreeze::server
