// kfreeze.v1.FreezeService over the coordinator, archive and bus (gRPC sync API).
#pragma once

#include <atomic>

#include "absl/synchronization/mutex.h"
#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/authz.h"
#include "server/daemon/dump_bus.h"
#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/limits.h"
#include "server/daemon/peer_identity.h"

namespace kfreeze::server {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpc(const absl::Status& status);

// Who may call, and how much: checked by every handler before it does anything.
struct ServiceGuards {
  const Authorizer* authorizer = nullptr;
  const UnixPeerTable* unix_peers = nullptr;
  Limits limits;
  kfreeze::v1::RpcAttachConfig rpc_attach;
};

class FreezeServiceImpl final : public kfreeze::v1::FreezeService::Service {
 public:
  FreezeServiceImpl(FreezeCoordinator* coordinator, DumpArchive* archive, DumpBus* bus,
                    ServiceGuards guards)
      : coordinator_(coordinator), archive_(archive), bus_(bus), guards_(std::move(guards)) {}

  grpc::Status Freeze(grpc::ServerContext* ctx, const kfreeze::v1::FreezeRequest* request,
                      kfreeze::v1::FreezeResponse* response) override;
  grpc::Status WatchDumps(grpc::ServerContext* ctx, const kfreeze::v1::WatchRequest* request,
                          grpc::ServerWriter<kfreeze::v1::DumpEvent>* writer) override;
  grpc::Status GetDump(grpc::ServerContext* ctx, const kfreeze::v1::GetDumpRequest* request,
                       kfreeze::v1::GetDumpResponse* response) override;
  grpc::Status ListDumps(grpc::ServerContext* ctx, const kfreeze::v1::ListDumpsRequest* request,
                         kfreeze::v1::ListDumpsResponse* response) override;
  grpc::Status ListTargets(grpc::ServerContext* ctx, const kfreeze::v1::ListTargetsRequest* request,
                           kfreeze::v1::ListTargetsResponse* response) override;
  grpc::Status GetTarget(grpc::ServerContext* ctx, const kfreeze::v1::GetTargetRequest* request,
                         kfreeze::v1::Target* response) override;
  grpc::Status AttachTarget(grpc::ServerContext* ctx,
                            const kfreeze::v1::AttachTargetRequest* request,
                            kfreeze::v1::Target* response) override;
  grpc::Status DetachTarget(grpc::ServerContext* ctx,
                            const kfreeze::v1::DetachTargetRequest* request,
                            kfreeze::v1::DetachTargetResponse* response) override;
  grpc::Status ResumeTarget(grpc::ServerContext* ctx,
                            const kfreeze::v1::ResumeTargetRequest* request,
                            kfreeze::v1::Target* response) override;

 private:
  // PERMISSION_DENIED unless the calling peer holds `needed` (logged).
  grpc::Status Authorize(const grpc::ServerContext* ctx, Role needed, const char* method) const;

  FreezeCoordinator* const coordinator_;
  DumpArchive* const archive_;
  DumpBus* const bus_;
  const ServiceGuards guards_;
  std::atomic<uint32_t> freezes_in_flight_{0};
  std::atomic<uint32_t> watchers_{0};
  // Serialises the target-count check with the registration it guards.
  absl::Mutex attach_mu_;
};

}  // namespace kfreeze::server
