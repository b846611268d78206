#include "server/daemon/peer_identity.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "grpcpp/security/auth_context.h"

namespace kfreeze::server {
namespace {

// The peer string gRPC 1.51 gives a connection added with grpc_server_add_channel_from_fd
// (src/core/ext/transport/chttp2/server/chttp2_server.cc: absl::StrCat("fd:", fd)).
constexpr char kFdPeerPrefix[] = "fd:";

std::vector<std::string> Values(const grpc::AuthContext& auth, const char* property) {
  std::vector<std::string> out;
  for (const grpc::string_ref& v : auth.FindPropertyValues(property)) {
    out.emplace_back(v.data(), v.size());
  }
  return out;
}

}  // namespace

std::string PeerIdentity::Describe() const {
  switch (transport) {
    case Transport::kUnix:
      return absl::StrCat("unix uid=", uid, " gid=", gid, " pid=", pid);
    case Transport::kTls:
      return absl::StrCat("tls [", absl::StrJoin(tls_names, ", "), "] ", address);
    case Transport::kInsecureTcp:
      return absl::StrCat("insecure tcp ", address);
    case Transport::kHttpUnix:
      return absl::StrCat("http unix socket ", address);
    case Transport::kNats:
      return absl::StrCat("nats ", address);
    case Transport::kUnknown:
      break;
  }
  return absl::StrCat("unidentified peer ", address);
}

void UnixPeerTable::Remember(int fd, const ucred& cred) {
  absl::MutexLock lock(&mu_);
  by_fd_[fd] = cred;
}

std::optional<ucred> UnixPeerTable::Lookup(int fd) const {
  absl::MutexLock lock(&mu_);
  auto it = by_fd_.find(fd);
  if (it == by_fd_.end()) return std::nullopt;
  return it->second;
}

size_t UnixPeerTable::size() const {
  absl::MutexLock lock(&mu_);
  return by_fd_.size();
}

PeerIdentity IdentifyPeer(const grpc::ServerContext& ctx, const UnixPeerTable& unix_peers) {
  PeerIdentity id;
  id.address = ctx.peer();
  absl::string_view rest = id.address;
  if (absl::ConsumePrefix(&rest, kFdPeerPrefix)) {
    int fd = -1;
    if (absl::SimpleAtoi(rest, &fd)) {
      if (std::optional<ucred> cred = unix_peers.Lookup(fd)) {
        id.transport = PeerIdentity::Transport::kUnix;
        id.uid = cred->uid;
        id.gid = cred->gid;
        id.pid = cred->pid;
      }
    }
    return id;
  }
  std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
  std::vector<std::string> security =
      auth ? Values(*auth, "transport_security_type") : std::vector<std::string>{};
  if (auth && auth->IsPeerAuthenticated() && !security.empty() && security[0] == "ssl") {
    id.transport = PeerIdentity::Transport::kTls;
    for (const char* property : {"x509_common_name", "x509_subject_alternative_name"}) {
      for (std::string& v : Values(*auth, property)) id.tls_names.push_back(std::move(v));
    }
    return id;
  }
  // Plaintext TCP is only ever bound on loopback (listeners.cc refuses anything else).
  if (absl::StartsWith(id.address, "ipv4:") || absl::StartsWith(id.address, "ipv6:")) {
    id.transport = PeerIdentity::Transport::kInsecureTcp;
  }
  return id;
}

}  // namespace kfreeze::server
