// Who is on the other end of an RPC. gRPC 1.51 exposes no SO_PEERCRED for unix-socket peers, so
// kfreezed accepts unix connections itself (UnixPeerListener), records each connection's
// credentials under its fd, and hands the fd to gRPC (AddInsecureChannelFromFd), whose calls
// then report the peer as "fd:N". A closed fd's number is only reused by a later accept(), which
// overwrites the entry before gRPC sees the new connection; and gRPC keeps a connection's fd open
// while any of its calls runs, so a call never reads another connection's credentials.
// TLS peers are named by their client certificate (ServerContext::auth_context()).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/server_context.h"

namespace kfreeze::server {

struct PeerIdentity {
  // kHttpUnix: a client of the HTTP side's unix socket, whose credentials HTTP does not give.
  // kNats: a request that reached kfreezed through the NATS cluster (docs/design/fleet.md), whose
  // server already decided, by its permissions, who may publish it.
  enum class Transport { kUnknown, kUnix, kTls, kInsecureTcp, kHttpUnix, kNats };
  Transport transport = Transport::kUnknown;
  // kUnix: the connecting process's credentials at connect() time.
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  // kTls: the client certificate's subject CN and subject alternative names.
  std::vector<std::string> tls_names;
  std::string address;  // gRPC's peer string

  // "unix uid=1000 gid=1000 pid=42", "tls [client-a, spiffe://x]", "insecure tcp ipv4:...".
  std::string Describe() const;
};

class UnixPeerTable {
 public:
  void Remember(int fd, const ucred& cred);
  std::optional<ucred> Lookup(int fd) const;
  // Distinct fd numbers ever recorded (entries are overwritten on reuse, never erased).
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<int, ucred> by_fd_ ABSL_GUARDED_BY(mu_);
};

PeerIdentity IdentifyPeer(const grpc::ServerContext& ctx, const UnixPeerTable& unix_peers);

}  // namespace kfreeze::server
