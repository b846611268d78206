// The resumer: a tiny process kfreezed starts at startup (its own binary in a hidden mode, see
// server/kfreezed/main.cc) so that a VM kfreezed paused runs again when kfreezed dies by any
// means, SIGKILL and OOM kill included. The two share a socketpair: before each `stop` kfreezed
// sends "hold <qmp socket>", after the VM runs again "release <qmp socket>". When the socketpair
// reaches end of file (kfreezed is gone, however it died) the resumer resumes every VM still held
// (pause_recovery.h), removes their pause markers, and exits. If the resumer dies, kfreezed starts
// a new one and replays what it holds.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kfreeze::server {

// argv[1] of the hidden mode; argv[2] is the pause-marker directory ("" for none).
inline constexpr char kResumerFlag[] = "--internal-resumer";
// The resumer's end of the socketpair.
inline constexpr int kResumerFd = 3;
// Protocol bounds: a line longer than this is dropped whole; at most this many VMs are held.
inline constexpr size_t kMaxResumerLine = 4096;
inline constexpr size_t kMaxHeldPauses = 4096;

// The resumer's side of the protocol: bytes in, the set of held QMP sockets out. Never fails on
// input: unknown verbs, overlong lines and bytes after the last newline change nothing.
class HeldPauses {
 public:
  void Feed(absl::string_view bytes);
  const std::set<std::string>& held() const { return held_; }

 private:
  void Apply(absl::string_view line);
  std::string line_;
  bool overlong_ = false;  // dropping the rest of an overlong line
  std::set<std::string> held_;
};

// main() of the hidden mode: reads kResumerFd to end of file, then resumes what is held.
int ResumerMain(int argc, char** argv);

// kfreezed's side: owns the resumer process, restarts it when it dies.
class ResumerProcess {
 public:
  // /proc/self/exe kResumerFlag STATE_DIR.
  static std::vector<std::string> SelfCommand(const std::string& state_dir);
  // Starts `command` with the other end of the socketpair as fd kResumerFd.
  static absl::StatusOr<std::unique_ptr<ResumerProcess>> Start(std::vector<std::string> command);
  // Closes the socketpair, which the resumer takes as kfreezed's end: it resumes whatever is still
  // held (nothing after an orderly shutdown), then exits; waits for it.
  ~ResumerProcess();
  ResumerProcess(const ResumerProcess&) = delete;
  ResumerProcess& operator=(const ResumerProcess&) = delete;

  // Before `stop`. A socket path with a newline cannot be sent; false then.
  bool Hold(const std::string& qmp_socket);
  // Once the VM runs again (or was never ours).
  void Release(const std::string& qmp_socket);

  pid_t pid() const;
  // How many resumers were started so far (1 after Start).
  int generation() const;

 private:
  explicit ResumerProcess(std::vector<std::string> command) : command_(std::move(command)) {}
  absl::Status SpawnLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked(absl::string_view verb, const std::string& qmp_socket)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Thread: waits for the resumer to die (its end closes), reaps and replaces it.
  void Watch();

  const std::vector<std::string> command_;
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_) = -1;
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  int wake_fd_ = -1;  // eventfd: the destructor stops Watch()
  std::thread watcher_;
};

}  // namespace kfreeze::server
