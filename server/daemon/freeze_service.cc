#include "server/daemon/freeze_service.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/daemon/attach_policy.h"
#include "server/daemon/dump_summary.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr uint32_t kDefaultPageSize = 50;
constexpr uint32_t kMaxPageSize = 1000;
// How often a watcher with nothing to send checks for cancellation and shutdown.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);

// One slot of a bounded counter for the lifetime of a call; `held()` false when none was free.
class Slot {
 public:
  Slot(std::atomic<uint32_t>& counter, uint32_t max) : counter_(counter) {
    uint32_t now = counter_.load();
    do {
      if (now >= max) return;
    } while (!counter_.compare_exchange_weak(now, now + 1));
    held_ = true;
  }
  ~Slot() {
    if (held_) counter_.fetch_sub(1);
  }
  bool held() const { return held_; }

 private:
  std::atomic<uint32_t>& counter_;
  bool held_ = false;
};

grpc::Status Exhausted(const std::string& what) {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, what);
}

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

// The roles of the methods: read = WatchDumps, GetDump, ListDumps, ListTargets, GetTarget;
// freeze = Freeze, ResumeTarget; admin = AttachTarget, DetachTarget. Health and reflection are
// open to every connected peer (they describe the service, not the guests).
grpc::Status FreezeServiceImpl::Authorize(const grpc::ServerContext* ctx, Role needed,
                                          const char* method) const {
  PeerIdentity peer = IdentifyPeer(*ctx, *guards_.unix_peers);
  absl::Status s = guards_.authorizer->Check(peer, needed, method);
  if (!s.ok()) spdlog::warn("denied: {}", std::string(s.message()));
  return ToGrpc(s);
}

grpc::Status FreezeServiceImpl::Freeze(grpc::ServerContext* ctx,
                                       const kfreeze::v1::FreezeRequest* request,
                                       kfreeze::v1::FreezeResponse* response) {
  if (grpc::Status s = Authorize(ctx, Role::kFreeze, "Freeze"); !s.ok()) return s;
  const Limits& limits = guards_.limits;
  for (absl::Status s : {CheckDeadline(request->deadline_ms(), limits, "deadline_ms"),
                         CheckDeadline(request->decode_deadline_ms(), limits, "decode_deadline_ms"),
                         CheckLabels(request->labels(), limits, "FreezeRequest.labels"),
                         CheckNames(request->sections(), limits, "FreezeRequest.sections")}) {
    if (!s.ok()) return ToGrpc(s);
  }
  Slot slot(freezes_in_flight_, limits.max_concurrent_freezes);
  if (!slot.held()) {
    return Exhausted(absl::StrCat(limits.max_concurrent_freezes,
                                  " Freeze calls are already in progress; retry later"));
  }
  return Reply(coordinator_->Freeze(*request, kfreeze::v1::TRIGGER_RPC), response);
}

grpc::Status FreezeServiceImpl::WatchDumps(grpc::ServerContext* ctx,
                                           const kfreeze::v1::WatchRequest* request,
                                           grpc::ServerWriter<kfreeze::v1::DumpEvent>* writer) {
  if (grpc::Status s = Authorize(ctx, Role::kRead, "WatchDumps"); !s.ok()) return s;
  const Limits& limits = guards_.limits;
  for (absl::Status s : {CheckNames(request->targets(), limits, "WatchRequest.targets"),
                         CheckNames(request->schemas(), limits, "WatchRequest.schemas"),
                         CheckLabels(request->labels(), limits, "WatchRequest.labels")}) {
    if (!s.ok()) return ToGrpc(s);
  }
  Slot slot(watchers_, limits.max_watchers);
  if (!slot.held()) {
    return Exhausted(absl::StrCat(limits.max_watchers, " WatchDumps streams are already open"));
  }
  WatchFilter filter;
  filter.targets.assign(request->targets().begin(), request->targets().end());
  filter.schemas.assign(request->schemas().begin(), request->schemas().end());
  filter.labels = request->labels();
  filter.summary_only = request->summary_only();
  // Subscribe before the replay so nothing archived in between is lost; dedupe by seq.
  std::unique_ptr<Subscription> sub = bus_->Subscribe(filter);
  uint64_t last_seq = 0;
  bool wrote = false;
  if (!request->since_dump_id().empty()) {
    std::optional<kfreeze::v1::DumpSummary> since = archive_->Find(request->since_dump_id());
    if (!since) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("since_dump_id ", request->since_dump_id(),
                                       " is not in the archive (expired or unknown)"));
    }
    for (const kfreeze::v1::DumpSummary& s : archive_->After(since->seq())) {
      if (!filter.Matches(s)) continue;
      kfreeze::v1::DumpEvent event;
      *event.mutable_summary() = s;
      event.set_replayed(true);
      if (!filter.summary_only) {
        absl::StatusOr<kfreeze::v1::DumpEnvelope> e = archive_->Get(s.dump_id());
        if (!e.ok()) continue;  // removed by retention meanwhile, or corrupt (logged)
        *event.mutable_envelope() = std::move(*e);
      }
      if (!writer->Write(event)) return grpc::Status::OK;
      wrote = true;
      last_seq = s.seq();
    }
  }
  // Headers go out now so a client knows the stream is live before the first dump.
  if (!wrote) writer->SendInitialMetadata();
  while (!ctx->IsCancelled()) {
    std::optional<kfreeze::v1::DumpEvent> event = sub->Next(kWatchPoll);
    if (!event) {
      if (sub->closed()) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "daemon is shutting down");
      }
      continue;
    }
    if (event->summary().seq() <= last_seq) continue;
    if (!writer->Write(*event)) break;
  }
  return grpc::Status::OK;
}

grpc::Status FreezeServiceImpl::GetDump(grpc::ServerContext* ctx,
                                        const kfreeze::v1::GetDumpRequest* request,
                                        kfreeze::v1::GetDumpResponse* response) {
  if (grpc::Status s = Authorize(ctx, Role::kRead, "GetDump"); !s.ok()) return s;
  absl::StatusOr<kfreeze::v1::DumpEnvelope> e = archive_->Get(request->dump_id());
  if (!e.ok()) return ToGrpc(e.status());
  *response->mutable_envelope() = std::move(*e);
  return grpc::Status::OK;
}

grpc::Status FreezeServiceImpl::ListDumps(grpc::ServerContext* ctx,
                                          const kfreeze::v1::ListDumpsRequest* request,
                                          kfreeze::v1::ListDumpsResponse* response) {
  if (grpc::Status s = Authorize(ctx, Role::kRead, "ListDumps"); !s.ok()) return s;
  if (absl::Status s = CheckLabels(request->labels(), guards_.limits, "ListDumpsRequest.labels");
      !s.ok()) {
    return ToGrpc(s);
  }
  DumpFilter filter;
  filter.target = request->target();
  filter.schema = request->schema();
  filter.labels = request->labels();
  uint64_t before = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &before)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "malformed page_token");
  }
  uint32_t size =
      request->page_size() == 0 ? kDefaultPageSize : std::min(request->page_size(), kMaxPageSize);
  bool more = false;
  std::vector<kfreeze::v1::DumpSummary> rows = archive_->List(filter, before, size, &more);
  for (auto& r : rows) *response->add_dumps() = std::move(r);
  if (more && response->dumps_size() > 0) {
    response->set_next_page_token(absl::StrCat(response->dumps().rbegin()->seq()));
  }
  return grpc::Status::OK;
}

grpc::Status FreezeServiceImpl::ListTargets(grpc::ServerContext* ctx,
                                            const kfreeze::v1::ListTargetsRequest*,
                                            kfreeze::v1::ListTargetsResponse* response) {
  if (grpc::Status s = Authorize(ctx, Role::kRead, "ListTargets"); !s.ok()) return s;
  for (auto& t : coordinator_->ListTargets()) *response->add_targets() = std::move(t);
  return grpc::Status::OK;
}

grpc::Status FreezeServiceImpl::GetTarget(grpc::ServerContext* ctx,
                                          const kfreeze::v1::GetTargetRequest* request,
                                          kfreeze::v1::Target* response) {
  if (grpc::Status s = Authorize(ctx, Role::kRead, "GetTarget"); !s.ok()) return s;
  return Reply(coordinator_->GetTarget(request->name()), response);
}

grpc::Status FreezeServiceImpl::AttachTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::AttachTargetRequest* request,
                                             kfreeze::v1::Target* response) {
  if (grpc::Status s = Authorize(ctx, Role::kAdmin, "AttachTarget"); !s.ok()) return s;
  const kfreeze::v1::TargetConfig& config = request->target();
  if (absl::Status s = CheckRpcAttach(config, guards_.rpc_attach); !s.ok()) {
    spdlog::warn("AttachTarget {} refused: {}", config.name(), std::string(s.message()));
    return ToGrpc(s);
  }
  if (absl::Status s = CheckTargetConfig(config, guards_.limits); !s.ok()) return ToGrpc(s);
  absl::StatusOr<kfreeze::v1::Target> t;
  {
    absl::MutexLock lock(&attach_mu_);
    bool replacing = request->replace() && coordinator_->GetTarget(config.name()).ok();
    if (!replacing && coordinator_->ListTargets().size() >= guards_.limits.max_targets) {
      return Exhausted(
          absl::StrCat("the daemon already has ", guards_.limits.max_targets, " targets"));
    }
    t = coordinator_->AddTarget(config, "rpc", request->replace());
  }
  if (!t.ok()) return ToGrpc(t.status());
  // Attach is synchronous for the caller: the reply says whether it worked.
  coordinator_->WaitForAttach(request->target().name());
  absl::StatusOr<kfreeze::v1::Target> now = coordinator_->GetTarget(request->target().name());
  *response = now.ok() ? std::move(*now) : std::move(*t);
  return grpc::Status::OK;
}

grpc::Status FreezeServiceImpl::DetachTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::DetachTargetRequest* request,
                                             kfreeze::v1::DetachTargetResponse*) {
  if (grpc::Status s = Authorize(ctx, Role::kAdmin, "DetachTarget"); !s.ok()) return s;
  return ToGrpc(coordinator_->RemoveTarget(request->name()));
}

grpc::Status FreezeServiceImpl::ResumeTarget(grpc::ServerContext* ctx,
                                             const kfreeze::v1::ResumeTargetRequest* request,
                                             kfreeze::v1::Target* response) {
  if (grpc::Status s = Authorize(ctx, Role::kFreeze, "ResumeTarget"); !s.ok()) return s;
  return Reply(coordinator_->Resume(request->name()), response);
}

}  // namespace kfreeze::server
