#include "server/daemon/unix_peer_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "grpcpp/server_posix.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr int kBacklog = 128;

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UnixPeerListener>> UnixPeerListener::Bind(const std::string& path,
                                                                         unsigned mode,
                                                                         UnixPeerTable* peers) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path too long: ", path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Errno("socket");
  // bind() creates the socket file: the umask keeps it from ever being more open than `mode`.
  mode_t old_umask = umask(static_cast<mode_t>(~mode & 0777));
  int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int bind_errno = errno;
  umask(old_umask);
  if (bound != 0) {
    close(fd);
    errno = bind_errno;
    return absl::UnavailableError(absl::StrCat("bind ", path, ": ", std::strerror(bind_errno)));
  }
  if (chmod(path.c_str(), mode) != 0 || listen(fd, kBacklog) != 0) {
    absl::Status s = Errno(absl::StrCat("chmod/listen ", path));
    close(fd);
    return s;
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    absl::Status s = Errno("pipe2");
    close(fd);
    return s;
  }
  return std::unique_ptr<UnixPeerListener>(new UnixPeerListener(path, fd, wake[0], wake[1], peers));
}

void UnixPeerListener::Start(grpc::Server* server) {
  thread_ = std::thread([this, server] { AcceptLoop(server); });
}

void UnixPeerListener::AcceptLoop(grpc::Server* server) {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_read_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("unix listener {}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      spdlog::warn("unix listener {}: accept: {}", path_, std::strerror(errno));
      if (errno == EMFILE || errno == ENFILE) usleep(100 * 1000);  // let connections close
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      spdlog::warn("unix listener {}: SO_PEERCRED: {}", path_, std::strerror(errno));
      close(conn);
      continue;
    }
    // Recorded before gRPC owns the fd: this connection's calls can only see these credentials.
    peers_->Remember(conn, cred);
    grpc::AddInsecureChannelFromFd(server, conn);
  }
}

void UnixPeerListener::Stop() {
  if (thread_.joinable()) {
    char byte = 1;
    if (write(wake_write_, &byte, 1) < 0) spdlog::warn("unix listener {}: wake", path_);
    thread_.join();
  }
  for (int* fd : {&listen_fd_, &wake_read_, &wake_write_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

UnixPeerListener::~UnixPeerListener() { Stop(); }

}  // namespace kfreeze::server
