// Per-RPC authorization: roles from the config's `roles` grants (or the defaults without any),
// checked once at the top of every FreezeService handler. A server interceptor was not used:
// in gRPC 1.51 a server interceptor cannot fail a call with its own status before the handler
// runs (it could only cancel it, which the client sees as CANCELLED).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/repeated_field.h"
#include "kfreeze/v1/config.pb.h"
#include "server/daemon/peer_identity.h"

namespace kfreeze::server {

// Nested: each role may do everything the ones below it may.
enum class Role { kNone = 0, kRead = 1, kFreeze = 2, kAdmin = 3 };

absl::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(absl::string_view name);

using RoleGrants = google::protobuf::RepeatedPtrField<kfreeze::v1::RoleGrant>;

// Unknown role or transport names, grants that name nobody.
absl::Status ValidateRoleGrants(const RoleGrants& grants);

class Authorizer {
 public:
  explicit Authorizer(const RoleGrants& grants) { Update(grants); }
  // SIGHUP: the new grants apply to the next call. `grants` must be valid.
  void Update(const RoleGrants& grants);

  Role RoleOf(const PeerIdentity& peer) const;
  // OK, or PERMISSION_DENIED naming the method, the role it needs, the peer and its role.
  absl::Status Check(const PeerIdentity& peer, Role needed, absl::string_view method) const;

 private:
  mutable absl::Mutex mu_;
  RoleGrants grants_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze::server
