// What a QMP peer sends: the input is the whole server side of a session (greeting, replies,
// events, garbage), written to a real unix socket; the client connects, negotiates and runs
// stop / human-monitor-command / query-status / cont. Every call must return (ok or an error)
// without crashing, and within its timeout.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "core/qmp/qmp_client.h"
#include "tests/support/temp_dir.h"

namespace {

std::string SocketPath() {
  static const kfreeze::testing::TempDir dir("kfreeze-qmp-fuzz");
  return dir.path() + "/qmp.sock";
}

int Listen(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  unlink(path.c_str());
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 1) != 0) {
    std::abort();
  }
  return fd;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int listener = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return Listen(SocketPath());
  }();
  const std::string script(reinterpret_cast<const char*>(data), size);
  // The peer: everything at once, then EOF; it drains what the client sends until it hangs up.
  std::thread peer([&] {
    int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    size_t done = 0;
    while (done < script.size()) {
      ssize_t n = send(c, script.data() + done, script.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    shutdown(c, SHUT_WR);
    char sink[4096];
    while (read(c, sink, sizeof(sink)) > 0) {
    }
    close(c);
  });
  const absl::Duration timeout = absl::Milliseconds(200);
  {
    auto client = kfreeze::QmpClient::Connect(SocketPath(), timeout);
    if (client.ok()) {
      (void)(*client)->Stop(timeout);
      (void)(*client)->HumanMonitorCommand("info registers -a", timeout);
      (void)(*client)->QueryStatus(timeout);
      (void)(*client)->Cont(timeout);
      (void)(*client)->TakeEvents();
    }
  }
  peer.join();
  return 0;
}
