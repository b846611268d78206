#include "server/daemon/resumer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/daemon/pause_markers.h"
#include "server/daemon/pause_recovery.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace kfreeze::server {
namespace {

// The dead kfreezed's QMP connection must be torn down before QEMU accepts the resumer's, which
// normally takes milliseconds; the resumer keeps trying this long.
constexpr absl::Duration kConnectBudget = absl::Milliseconds(1500);
// A resumer that keeps dying is restarted at most this often.
constexpr auto kRespawnInterval = std::chrono::milliseconds(250);

std::string WaitStatusText(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("status ", status);
}

void Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

void HeldPauses::Feed(absl::string_view bytes) {
  for (char c : bytes) {
    if (c == '\n') {
      if (!overlong_) Apply(line_);
      line_.clear();
      overlong_ = false;
    } else if (!overlong_) {
      if (line_.size() >= kMaxResumerLine) {
        overlong_ = true;
        line_.clear();
      } else {
        line_.push_back(c);
      }
    }
  }
}

void HeldPauses::Apply(absl::string_view line) {
  size_t space = line.find(' ');
  if (space == absl::string_view::npos) return;
  absl::string_view verb = line.substr(0, space);
  std::string socket(line.substr(space + 1));
  // A NUL would cut the path short at connect(2): some other socket.
  if (socket.empty() || socket.find('\0') != std::string::npos) return;
  if (verb == "hold" && held_.size() < kMaxHeldPauses) held_.insert(std::move(socket));
  if (verb == "release") held_.erase(socket);
}

int ResumerMain(int argc, char** argv) {
  // Only kfreezed's end of file ends the resumer: a terminal's ^C or systemd's SIGTERM to the
  // whole cgroup must not take it down while kfreezed shuts down in order.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) signal(sig, SIG_IGN);
  // Any descriptor kfreezed leaked without close-on-exec (a QMP connection above all) would keep
  // its peer from seeing kfreezed die: QEMU would never hand the resumer its QMP seat.
  (void)close_range(kResumerFd + 1, ~0U, 0);
  const std::string state_dir = argc > 2 ? argv[2] : "";
  HeldPauses held;
  char buf[4096];
  for (;;) {
    ssize_t n = read(kResumerFd, buf, sizeof(buf));
    if (n > 0) {
      held.Feed(absl::string_view(buf, static_cast<size_t>(n)));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // end of file (or a broken channel): kfreezed is gone
    }
  }
  close(kResumerFd);
  if (held.held().empty()) return 0;
  spdlog::warn("resumer: kfreezed exited holding {} VM(s) paused; resuming them",
               held.held().size());
  std::vector<std::string> sockets(held.held().begin(), held.held().end());
  const std::vector<PauseRecovery> results = ResumeOwnPauses(sockets, kConnectBudget);
  int failed = 0;
  for (size_t i = 0; i < sockets.size(); ++i) {
    spdlog::warn("resumer: VM at {}: {}", sockets[i], Describe(results[i]));
    if (results[i].outcome == PauseRecovery::Outcome::kUnreachable) {
      ++failed;  // the marker stays: the next kfreezed reconciles it
    } else if (!state_dir.empty()) {
      PauseMarkers(state_dir).Remove(sockets[i]);
    }
  }
  return failed == 0 ? 0 : 1;
}

std::vector<std::string> ResumerProcess::SelfCommand(const std::string& state_dir) {
  return {"/proc/self/exe", kResumerFlag, state_dir};
}

absl::StatusOr<std::unique_ptr<ResumerProcess>> ResumerProcess::Start(
    std::vector<std::string> command) {
  if (command.empty()) return absl::InvalidArgumentError("empty resumer command");
  std::unique_ptr<ResumerProcess> p(new ResumerProcess(std::move(command)));
  p->wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (p->wake_fd_ < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  {
    absl::MutexLock lock(&p->mu_);
    if (absl::Status s = p->SpawnLocked(); !s.ok()) return s;
  }
  p->watcher_ = std::thread([raw = p.get()] { raw->Watch(); });
  return p;
}

absl::Status ResumerProcess::SpawnLocked() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::InternalError(absl::StrCat("socketpair: ", std::strerror(errno)));
  }
  // Above kResumerFd, so the dup2 below always happens and clears close-on-exec there.
  int child_end = fcntl(sv[1], F_DUPFD_CLOEXEC, kResumerFd + 1);
  close(sv[1]);
  if (child_end < 0) {
    close(sv[0]);
    return absl::InternalError(absl::StrCat("fcntl: ", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_end, kResumerFd);
  std::vector<char*> argv;
  for (const std::string& a : command_) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, command_[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(child_end);  // from now on only the resumer holds its end
  if (rc != 0) {
    close(sv[0]);
    return absl::InternalError(
        absl::StrCat("cannot start the resumer (", command_[0], "): ", std::strerror(rc)));
  }
  fd_ = sv[0];
  pid_ = pid;
  ++generation_;
  spdlog::info("resumer pid {} started", pid);
  for (const std::string& socket : held_) SendLocked("hold", socket);
  return absl::OkStatus();
}

void ResumerProcess::SendLocked(absl::string_view verb, const std::string& qmp_socket) {
  if (fd_ < 0) return;  // Watch() replays `held_` into the next resumer
  std::string line = absl::StrCat(verb, " ", qmp_socket, "\n");
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = send(fd_, line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::warn("resumer pid {}: {} not delivered ({}); a new resumer will get it", pid_,
                   std::string(verb), std::strerror(errno));
      return;
    }
    done += static_cast<size_t>(n);
  }
}

bool ResumerProcess::Hold(const std::string& qmp_socket) {
  if (qmp_socket.empty() || qmp_socket.find('\n') != std::string::npos ||
      qmp_socket.find('\0') != std::string::npos || qmp_socket.size() + 16 > kMaxResumerLine) {
    return false;
  }
  absl::MutexLock lock(&mu_);
  held_.insert(qmp_socket);
  SendLocked("hold", qmp_socket);
  return true;
}

void ResumerProcess::Release(const std::string& qmp_socket) {
  absl::MutexLock lock(&mu_);
  if (held_.erase(qmp_socket) == 0) return;
  SendLocked("release", qmp_socket);
}

pid_t ResumerProcess::pid() const {
  absl::MutexLock lock(&mu_);
  return pid_;
}

int ResumerProcess::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void ResumerProcess::Watch() {
  auto last_spawn = std::chrono::steady_clock::now();
  for (;;) {
    int fd;
    {
      absl::MutexLock lock(&mu_);
      fd = fd_;  // only this thread changes fd_ once it runs
    }
    pollfd p[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN | POLLRDHUP, 0}};
    int ready = poll(p, fd >= 0 ? 2 : 1, fd >= 0 ? -1 : 1000);
    if (ready < 0 && errno == EINTR) continue;
    if (p[0].revents != 0) return;
    if (fd >= 0) {
      if (p[1].revents == 0) continue;
      char c;
      ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) continue;  // not a death
      pid_t dead;
      {
        absl::MutexLock lock(&mu_);
        close(fd_);
        fd_ = -1;
        dead = pid_;
        pid_ = -1;
      }
      int status = 0;
      while (waitpid(dead, &status, 0) < 0 && errno == EINTR) {
      }
      spdlog::error("resumer pid {} exited ({}); starting a new one", dead, WaitStatusText(status));
      // Do not spin on a resumer that dies at once.
      auto wait = kRespawnInterval - (std::chrono::steady_clock::now() - last_spawn);
      if (wait > std::chrono::milliseconds(0)) {
        pollfd w{wake_fd_, POLLIN, 0};
        if (poll(&w, 1,
                 static_cast<int>(
                     std::chrono::duration_cast<std::chrono::milliseconds>(wait).count())) > 0) {
          return;
        }
      }
    }
    absl::MutexLock lock(&mu_);
    last_spawn = std::chrono::steady_clock::now();
    if (absl::Status s = SpawnLocked(); !s.ok()) spdlog::error("{}", s.ToString());
  }
}

ResumerProcess::~ResumerProcess() {
  if (watcher_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof(one));
    watcher_.join();
  }
  pid_t pid;
  {
    absl::MutexLock lock(&mu_);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    pid = pid_;
  }
  if (pid > 0) Reap(pid);
  if (wake_fd_ >= 0) close(wake_fd_);
}

}  // namespace kfreeze::server
