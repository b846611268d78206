// kfreeze.v1.FreezeService over gRPC (sync API): each handler names the peer and hands the call
// to FreezeApi, which does the work for every transport.
#pragma once

#include "kfreeze/v1/service.grpc.pb.h"
#include "server/daemon/freeze_api.h"

namespace kfreeze::server {

// absl::Status -> grpc::Status with the same code and message.
grpc::Status ToGrpc(const absl::Status& status);

class FreezeServiceImpl final : public kfreeze::v1::FreezeService::Service {
 public:
  FreezeServiceImpl(FreezeApi* api, const UnixPeerTable* unix_peers)
      : api_(api), unix_peers_(unix_peers) {}

  grpc::Status Freeze(grpc::ServerContext* ctx, const kfreeze::v1::FreezeRequest* request,
                      kfreeze::v1::FreezeResponse* response) override;
  grpc::Status WatchDumps(grpc::ServerContext* ctx, const kfreeze::v1::WatchRequest* request,
                          grpc::ServerWriter<kfreeze::v1::DumpEvent>* writer) override;
  grpc::Status GetInfo(grpc::ServerContext* ctx, const kfreeze::v1::GetInfoRequest* request,
                       kfreeze::v1::DaemonInfo* response) override;
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
  PeerIdentity Peer(const grpc::ServerContext* ctx) const {
    return IdentifyPeer(*ctx, *unix_peers_);
  }

  FreezeApi* const api_;
  const UnixPeerTable* const unix_peers_;
};

}  // namespace kfreeze::server
