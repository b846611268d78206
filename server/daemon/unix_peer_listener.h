// A unix-socket listener kfreezed runs itself (instead of gRPC's) so it learns each peer's
// uid/gid/pid (SO_PEERCRED) before handing the connection to the gRPC server; see
// peer_identity.h for how an RPC finds its connection's credentials.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "server/daemon/peer_identity.h"

namespace kfreeze::server {

class UnixPeerListener {
 public:
  // Binds `path` (after PrepareUnixSocket) with permission bits `mode` and listens.
  static absl::StatusOr<std::unique_ptr<UnixPeerListener>> Bind(const std::string& path,
                                                                unsigned mode,
                                                                UnixPeerTable* peers);
  ~UnixPeerListener();  // Stop()
  UnixPeerListener(const UnixPeerListener&) = delete;
  UnixPeerListener& operator=(const UnixPeerListener&) = delete;

  // Accepts on a thread: records each connection's credentials, then gives it to `server`.
  void Start(grpc::Server* server);
  // Stops accepting and closes the listening socket (connections already handed over stay).
  void Stop();
  const std::string& path() const { return path_; }

 private:
  UnixPeerListener(std::string path, int listen_fd, int wake_read, int wake_write,
                   UnixPeerTable* peers)
      : path_(std::move(path)),
        listen_fd_(listen_fd),
        wake_read_(wake_read),
        wake_write_(wake_write),
        peers_(peers) {}
  void AcceptLoop(grpc::Server* server);

  const std::string path_;
  int listen_fd_;
  int wake_read_;
  int wake_write_;
  UnixPeerTable* const peers_;
  std::thread thread_;
};

}  // namespace kfreeze::server
