// A scriptable QMP server on a unix socket, for tests of anything that talks to QEMU: it greets,
// accepts qmp_capabilities, and answers each command through a handler (which may also emit
// events, reply with a wrong id first, stall, or hang up).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace kfreeze::testing {

class FakeQmpServer {
 public:
  // What the server sends for one request: raw JSON lines (events, replies), then optionally
  // hangs up. An empty `lines` means: never answer.
  struct Response {
    std::vector<nlohmann::json> lines;
    bool hang_up = false;
  };
  using Handler = std::function<Response(const nlohmann::json& request)>;

  // Replies {"return": <value>} with the request's id.
  static Response Return(const nlohmann::json& request, nlohmann::json value);
  static Response Error(const nlohmann::json& request, const std::string& cls,
                        const std::string& desc);

  // Listens on a fresh socket in a temp dir; `greeting` replaces the standard QMP banner.
  explicit FakeQmpServer(Handler handler, nlohmann::json greeting = nullptr);
  ~FakeQmpServer();

  const std::string& path() const { return path_; }
  // Commands received so far (after qmp_capabilities), in order.
  std::vector<std::string> commands() const;

 private:
  void Serve();

  Handler handler_;
  nlohmann::json greeting_;
  std::string dir_, path_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::vector<std::string> commands_;
  mutable std::atomic<int> commands_lock_{0};
  std::thread thread_;
};

// Handler answering what attach asks: `info mtree -f` with `mtree_text`, and query-status over a
// run state that stop/cont change.
FakeQmpServer::Handler QemuLikeHandler(std::string mtree_text);

}  // namespace kfreeze::testing
