#include "server/daemon/authz.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kfreeze::server {
namespace {

using Transport = PeerIdentity::Transport;

// Without any grant: today's unix-socket trust minus target management; a certificate-holder
// over TCP reads; plaintext loopback TCP (any local user, whatever the socket mode) reads; a NATS
// request freezes (the NATS server's permissions said who may send it).
Role DefaultRole(const PeerIdentity& peer) {
  switch (peer.transport) {
    case Transport::kUnix:
    case Transport::kNats:
      return Role::kFreeze;
    case Transport::kTls:
    case Transport::kInsecureTcp:
    case Transport::kHttpUnix:
      return Role::kRead;
    case Transport::kUnknown:
      break;
  }
  return Role::kNone;
}

absl::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUnix:
      return "unix";
    case Transport::kTls:
      return "tls";
    case Transport::kInsecureTcp:
      return "insecure_tcp";
    case Transport::kHttpUnix:
      return "http_unix";
    case Transport::kNats:
      return "nats";
    case Transport::kUnknown:
      break;
  }
  return "unknown";
}

bool Names(const kfreeze::v1::RoleGrant& g, const PeerIdentity& peer) {
  if (peer.transport == Transport::kUnknown) return false;
  for (const std::string& t : g.any_peer_on()) {
    if (t == TransportName(peer.transport)) return true;
  }
  if (peer.transport == Transport::kUnix) {
    if (std::find(g.uids().begin(), g.uids().end(), peer.uid) != g.uids().end()) return true;
    if (std::find(g.gids().begin(), g.gids().end(), peer.gid) != g.gids().end()) return true;
  }
  if (peer.transport == Transport::kTls) {
    for (const std::string& want : g.tls_identities()) {
      if (std::find(peer.tls_names.begin(), peer.tls_names.end(), want) != peer.tls_names.end()) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kFreeze:
      return "freeze";
    case Role::kAdmin:
      return "admin";
    case Role::kNone:
      break;
  }
  return "none";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kRead, Role::kFreeze, Role::kAdmin}) {
    if (name == RoleName(r)) return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role '", name, "' (roles: read, freeze, admin)"));
}

absl::Status ValidateRoleGrants(const RoleGrants& grants) {
  for (int i = 0; i < grants.size(); ++i) {
    const kfreeze::v1::RoleGrant& g = grants.Get(i);
    if (absl::StatusOr<Role> r = ParseRole(g.role()); !r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("roles[", i, "]: ", r.status().message()));
    }
    for (const std::string& t : g.any_peer_on()) {
      if (t != "unix" && t != "tls" && t != "insecure_tcp" && t != "http_unix" && t != "nats") {
        return absl::InvalidArgumentError(absl::StrCat("roles[", i, "].any_peer_on: '", t,
                                                       "' is not unix, tls, insecure_tcp, "
                                                       "http_unix or nats"));
      }
    }
    if (g.uids().empty() && g.gids().empty() && g.tls_identities().empty() &&
        g.any_peer_on().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "roles[", i, "] names nobody (set uids, gids, tls_identities or any_peer_on)"));
    }
  }
  return absl::OkStatus();
}

void Authorizer::Update(const RoleGrants& grants) {
  absl::MutexLock lock(&mu_);
  grants_ = grants;
}

Role Authorizer::RoleOf(const PeerIdentity& peer) const {
  absl::MutexLock lock(&mu_);
  if (grants_.empty()) return DefaultRole(peer);
  Role best = Role::kNone;
  for (const kfreeze::v1::RoleGrant& g : grants_) {
    absl::StatusOr<Role> r = ParseRole(g.role());
    if (r.ok() && *r > best && Names(g, peer)) best = *r;
  }
  return best;
}

absl::Status Authorizer::Check(const PeerIdentity& peer, Role needed,
                               absl::string_view method) const {
  Role has = RoleOf(peer);
  if (has >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(method, " needs the '", RoleName(needed),
                                                  "' role; ", peer.Describe(), " has '",
                                                  RoleName(has), "' (see `roles` in the config)"));
}

}  // namespace kfreeze::server
