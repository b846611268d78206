// A QMP server on a unix socket, for tests of anything that talks to QEMU. It greets, accepts
// qmp_capabilities, and answers each command either as a QEMU-like VM (run state that stop/cont
// change with STOP/RESUME events, query-status, `info registers -a`, `info mtree -f`) or through a
// scripted handler (which may emit events, reply with a wrong id first, stall, or hang up). Any
// command can be made to hang or to drop the connection, as a stuck or killed QEMU would.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace kfreeze::testing {

class QemuLikeVm;

class FakeQmpServer {
 public:
  // What the server sends for one request: raw JSON lines (events, replies), then optionally
  // hangs up. An empty `lines` means: never answer.
  struct Response {
    std::vector<nlohmann::json> lines;
    bool hang_up = false;
  };
  using Handler = std::function<Response(const nlohmann::json& request)>;
  enum class Fault { kNone, kHang, kDisconnect };

  // Replies {"return": <value>} with the request's id.
  static Response Return(const nlohmann::json& request, nlohmann::json value);
  static Response Error(const nlohmann::json& request, const std::string& cls,
                        const std::string& desc);

  // A QEMU-like VM listening on `socket_path` (a fresh socket in a temp dir when empty).
  explicit FakeQmpServer(std::string socket_path = "");
  // Scripted: every command goes to `handler`; `greeting` replaces the standard QMP banner (an
  // array: several lines, in order).
  explicit FakeQmpServer(Handler handler, nlohmann::json greeting = nullptr);
  ~FakeQmpServer();

  const std::string& path() const { return path_; }
  // Commands received so far (after qmp_capabilities), in order, faulted ones included.
  std::vector<std::string> commands() const;
  int count(const std::string& command) const;
  // `command` ("stop", "cont", "human-monitor-command", ...) hangs or drops the connection.
  void SetFault(const std::string& command, Fault fault);

  // QEMU-like VM only. The RunState query-status reports ("paused" as if an operator sent `stop`,
  // "io-error", ...); `stop` makes it "paused", `cont` "running".
  void SetStatus(const std::string& status);
  std::string status() const;
  bool running() const { return status() == "running"; }
  void SetRegistersText(std::string text);
  void SetMtreeText(std::string text);

 private:
  FakeQmpServer(std::shared_ptr<QemuLikeVm> vm, Handler handler, nlohmann::json greeting,
                std::string socket_path);
  void Serve();
  void ServeConnection(int fd);

  const std::shared_ptr<QemuLikeVm> vm_;  // null for a scripted server
  const Handler handler_;
  nlohmann::json greeting_;
  std::optional<TempDir> dir_;  // holds the socket (none when the caller chose the path)
  std::string path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, Fault> faults_;
  std::vector<std::string> commands_;
  std::thread thread_;
};

// Handler of a QEMU-like VM whose `info mtree -f` answers `mtree_text` (what attach asks).
FakeQmpServer::Handler QemuLikeHandler(std::string mtree_text);

// Two vCPUs of QEMU 7.2 `info registers -a` output (trimmed to the lines the parser reads); the
// QEMU-like VM's default.
extern const char kTwoVcpuRegisters[];

}  // namespace kfreeze::testing
