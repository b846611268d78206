// kfreeze.v1.FreezeService's behaviour, independent of the transport: every call names its peer,
// is authorised by role, checked against the limits, and answers with a proto or an absl::Status.
// The gRPC service (freeze_service.h) and the HTTP API (server/http) are thin shells over it, so
// a filter, a limit or a role means the same on both.
#pragma once

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/authz.h"
#include "server/daemon/dump_bus.h"
#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/limits.h"
#include "server/daemon/peer_identity.h"

namespace kfreeze::server {

class DaemonMetrics;

// Who may call, and how much: checked by every call before it does anything.
struct ServiceGuards {
  const Authorizer* authorizer = nullptr;
  const UnixPeerTable* unix_peers = nullptr;
  Limits limits;
  kfreeze::v1::RpcAttachConfig rpc_attach;
  // The gRPC server's receive bound (GetInfo reports it).
  uint32_t max_receive_message_bytes = 0;
  DaemonMetrics* metrics = nullptr;  // may be null
};

// Where a watch writes: Write returns false once the peer is gone; Cancelled is polled between
// events; Live is called once, when the replay is done and live events follow.
struct WatchSink {
  std::function<bool(const kfreeze::v1::DumpEvent&)> write;
  std::function<bool()> cancelled;
  std::function<void()> live;
};

class Subscription;

// An open dump stream: validated, subscribed (nothing published after OpenWatch is missed), and
// counted against max_watchers until destroyed.
class WatchSession {
 public:
  ~WatchSession();
  // Replays the archive after since_dump_id, then writes live events until the sink is cancelled
  // or gone (OK) or the daemon shuts down (Unavailable).
  absl::Status Run(const WatchSink& sink);

 private:
  friend class FreezeApi;
  WatchSession(std::atomic<uint32_t>* watchers, WatchFilter filter, uint64_t since_seq,
               DumpArchive* archive, std::unique_ptr<Subscription> sub);

  std::atomic<uint32_t>* const watchers_;  // released at destruction
  const WatchFilter filter_;
  const uint64_t since_seq_;  // 0: live only
  DumpArchive* const archive_;
  std::unique_ptr<Subscription> sub_;
};

class FreezeApi {
 public:
  FreezeApi(FreezeCoordinator* coordinator, DumpArchive* archive, DumpBus* bus,
            ServiceGuards guards);

  absl::StatusOr<kfreeze::v1::FreezeResponse> Freeze(const PeerIdentity& peer,
                                                     const kfreeze::v1::FreezeRequest& request);
  // A dump stream for `request`, or why not: InvalidArgument (filters), NotFound (an unknown
  // since_dump_id), ResourceExhausted (max_watchers streams already open).
  absl::StatusOr<std::unique_ptr<WatchSession>> OpenWatch(const PeerIdentity& peer,
                                                          const kfreeze::v1::WatchRequest& request);
  absl::StatusOr<kfreeze::v1::DaemonInfo> GetInfo(const PeerIdentity& peer);
  absl::StatusOr<kfreeze::v1::GetDumpResponse> GetDump(const PeerIdentity& peer,
                                                       const kfreeze::v1::GetDumpRequest& request);
  absl::StatusOr<kfreeze::v1::ListDumpsResponse> ListDumps(
      const PeerIdentity& peer, const kfreeze::v1::ListDumpsRequest& request);
  absl::StatusOr<kfreeze::v1::ListTargetsResponse> ListTargets(const PeerIdentity& peer);
  absl::StatusOr<kfreeze::v1::Target> GetTarget(const PeerIdentity& peer,
                                                const kfreeze::v1::GetTargetRequest& request);
  absl::StatusOr<kfreeze::v1::Target> AttachTarget(const PeerIdentity& peer,
                                                   const kfreeze::v1::AttachTargetRequest& request);
  absl::Status DetachTarget(const PeerIdentity& peer,
                            const kfreeze::v1::DetachTargetRequest& request);
  absl::StatusOr<kfreeze::v1::Target> ResumeTarget(const PeerIdentity& peer,
                                                   const kfreeze::v1::ResumeTargetRequest& request);

  const ServiceGuards& guards() const { return guards_; }
  // PermissionDenied unless `peer` may read (for transports that serve pieces of a dump they
  // keep, such as the HTTP side's map pages).
  absl::Status CheckRead(const PeerIdentity& peer, const char* method) const {
    return Authorize(peer, Role::kRead, method);
  }

 private:
  // PermissionDenied unless `peer` holds `needed` (logged).
  absl::Status Authorize(const PeerIdentity& peer, Role needed, const char* method) const;

  FreezeCoordinator* const coordinator_;
  DumpArchive* const archive_;
  DumpBus* const bus_;
  const ServiceGuards guards_;
  const absl::Time started_at_;
  std::atomic<uint32_t> freezes_in_flight_{0};
  std::atomic<uint32_t> watchers_{0};
  // Serialises the target-count check with the registration it guards.
  absl::Mutex attach_mu_;
};

}  // namespace kfreeze::server
