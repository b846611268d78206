#include "server/daemon/freeze_service.h"

#include <utility>

namespace kfreeze::server {
namespace {

// The value into `response`, or the error.
template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::Status FreezeServiceImpl::Freeze(grpc::ServerContext* ctx,
                                       const kfreeze::v1::FreezeRequest* request,
                                       kfreeze::v1::FreezeResponse* response) {
  return Reply(api_->Freeze(Peer(ctx), *request), response);
}

grpc::Status FreezeServiceImpl::WatchDumps(grpc::ServerContext* ctx,
                                           const kfreeze::v1::WatchRequest* request,
                                           grpc::ServerWriter<kfreeze::v1::DumpEvent>* writer) {
  bool wrote = false;
  WatchSink sink;
  sink.write = [&](const kfreeze::v1::DumpEvent& e) {
    wrote = true;
    return writer->Write(e);
  };
  sink.cancelled = [ctx] { return ctx->IsCancelled(); };
  // Headers go out now so a client knows the stream is live before the first dump.
  sink.live = [&] {
    if (!wrote) writer->SendInitialMetadata();
  };
  absl::StatusOr<std::unique_ptr<WatchSession>> session = api_->OpenWatch(Peer(ctx), *request);
  if (!session.ok()) return ToGrpc(session.status());
  return ToGrpc((*session)->Run(sink));
}

grpc::Status FreezeServiceImpl::GetInfo(grpc::ServerContext* ctx,
                                        const kfreeze::v1::GetInfoRequest*,
                                        kfreeze::v1::DaemonInfo* response) {
  return Reply(api_->GetInfo(Peer(ctx)), response);
}

grpc::Status FreezeServiceImpl::GetDump(grpc::ServerContext* ctx,
                                        const kfreeze::v1::GetDumpRequest* request,
                                        kfreeze::v1::GetDumpResponse* response) {
  return Reply(api_->GetDump(Peer(ctx), *request), response);
}

grpc::Status FreezeServiceImpl::ListDumps(grpc::ServerContext* ctx,
                                          const kfreeze::v1::ListDumpsRequest* request,
                                          kfreeze::v1::ListDumpsResponse* response) {
  return Reply(api_->ListDumps(Peer(ctx), *request), response);
}

grpc::Status FreezeServiceImpl::ListTargets(grpc::ServerContext* ctx,
                                            const kfreeze::v1::ListTargetsRequest*,
                                            kfreeze::v1::ListTargetsResponse* response) {
  return Reply(api_->ListTargets(Peer(ctx)), response);
}

grpc::Status FreezeServiceImpl::GetTarget(grpc::ServerContext* ctx,
                                          const kfreeze::v1::GetTargetRequest* request,
                                          kfreeze::v1::Target* response) {
  return Reply(api_->GetTarget(Peer(ctx), *request), response);
}

grpc::Status FreezeServiceImpl::AttachTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::AttachTargetRequest* request,
                                             kfreeze::v1::Target* response) {
  return Reply(api_->AttachTarget(Peer(ctx), *request), response);
}

grpc::Status FreezeServiceImpl::DetachTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::DetachTargetRequest* request,
                                             kfreeze::v1::DetachTargetResponse*) {
  return ToGrpc(api_->DetachTarget(Peer(ctx), *request));
}

grpc::Status FreezeServiceImpl::ResumeTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::ResumeTargetRequest* request,
                                             kfreeze::v1::Target* response) {
  return Reply(api_->ResumeTarget(Peer(ctx), *request), response);
}

}  // namespace kfreeze::server
