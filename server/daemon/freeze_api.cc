#include "server/daemon/freeze_api.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/status.h"
#include "core/walkers/maps/map_caps.h"
#include "server/daemon/attach_policy.h"
#include "server/daemon/build_info.h"
#include "server/daemon/dump_summary.h"
#include "server/daemon/metrics.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr uint32_t kDefaultPageSize = 50;
constexpr uint32_t kMaxPageSize = 1000;
// How often a watcher with nothing to send checks for cancellation and shutdown.
constexpr absl::Duration kWatchPoll = absl::Milliseconds(200);

// One slot of a bounded counter for the lifetime of a call; `held()` false when none was free.
// Takes one of `max` slots of `counter`; false (nothing taken) when none is free.
bool TakeSlot(std::atomic<uint32_t>& counter, uint32_t max) {
  uint32_t now = counter.load();
  do {
    if (now >= max) return false;
  } while (!counter.compare_exchange_weak(now, now + 1));
  return true;
}

class Slot {
 public:
  Slot(std::atomic<uint32_t>& counter, uint32_t max)
      : counter_(counter), held_(TakeSlot(counter, max)) {}
  ~Slot() {
    if (held_) counter_.fetch_sub(1);
  }
  bool held() const { return held_; }

 private:
  std::atomic<uint32_t>& counter_;
  const bool held_;
};

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

FreezeApi::FreezeApi(FreezeCoordinator* coordinator, DumpArchive* archive, DumpBus* bus,
                     ServiceGuards guards)
    : coordinator_(coordinator),
      archive_(archive),
      bus_(bus),
      guards_(std::move(guards)),
      started_at_(absl::Now()) {}

// The roles of the methods: read = WatchDumps, GetInfo, GetDump, ListDumps, ListTargets,
// GetTarget; freeze = Freeze, ResumeTarget; admin = AttachTarget, DetachTarget.
absl::Status FreezeApi::Authorize(const PeerIdentity& peer, Role needed, const char* method) const {
  absl::Status s = guards_.authorizer->Check(peer, needed, method);
  if (!s.ok()) spdlog::warn("denied: {}", std::string(s.message()));
  return s;
}

absl::StatusOr<kfreeze::v1::FreezeResponse> FreezeApi::Freeze(
    const PeerIdentity& peer, const kfreeze::v1::FreezeRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kFreeze, "Freeze"));
  const Limits& limits = guards_.limits;
  KF_RETURN_IF_ERROR(
      FirstError({CheckDeadline(request.deadline_ms(), limits, "deadline_ms"),
                  CheckDeadline(request.decode_deadline_ms(), limits, "decode_deadline_ms"),
                  CheckLabels(request.labels(), limits, "FreezeRequest.labels"),
                  CheckNames(request.sections(), limits, "FreezeRequest.sections")}));
  Slot slot(freezes_in_flight_, limits.max_concurrent_freezes);
  if (!slot.held()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        limits.max_concurrent_freezes, " Freeze calls are already in progress; retry later"));
  }
  const absl::Time begin = absl::Now();
  absl::StatusOr<kfreeze::v1::FreezeResponse> out =
      coordinator_->Freeze(request, kfreeze::v1::TRIGGER_RPC);
  if (guards_.metrics) {
    guards_.metrics->OnFreezeCall(request.target(), absl::Now() - begin, out.status().code());
  }
  return out;
}

absl::StatusOr<std::unique_ptr<WatchSession>> FreezeApi::OpenWatch(
    const PeerIdentity& peer, const kfreeze::v1::WatchRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "WatchDumps"));
  const Limits& limits = guards_.limits;
  KF_RETURN_IF_ERROR(
      FirstError({CheckNames(request.targets(), limits, "WatchRequest.targets"),
                  CheckNames(request.schemas(), limits, "WatchRequest.schemas"),
                  CheckLabels(request.labels(), limits, "WatchRequest.labels"),
                  CheckNames(request.exit_kinds(), limits, "WatchRequest.exit_kinds"),
                  CheckNames(request.schedulers(), limits, "WatchRequest.schedulers"),
                  CheckNames(request.field_mask().paths(), limits, "WatchRequest.field_mask.paths"),
                  CheckCount(request.triggers_size(), limits, "WatchRequest.triggers")}));
  KF_ASSIGN_OR_RETURN(WatchFilter filter, FilterFromRequest(request));
  uint64_t since_seq = 0;
  if (!request.since_dump_id().empty()) {
    std::optional<kfreeze::v1::DumpSummary> since = archive_->Find(request.since_dump_id());
    if (!since) {
      return absl::NotFoundError(absl::StrCat("since_dump_id ", request.since_dump_id(),
                                              " is not in the archive (expired or unknown)"));
    }
    since_seq = since->seq();
  }
  // Released by the session's destructor.
  if (!TakeSlot(watchers_, limits.max_watchers)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(limits.max_watchers, " dump streams are already open"));
  }
  // Subscribed before the replay so nothing archived in between is lost; deduped by seq.
  std::unique_ptr<Subscription> sub = bus_->Subscribe(filter);
  return std::unique_ptr<WatchSession>(
      new WatchSession(&watchers_, std::move(filter), since_seq, archive_, std::move(sub)));
}

WatchSession::WatchSession(std::atomic<uint32_t>* watchers, WatchFilter filter, uint64_t since_seq,
                           DumpArchive* archive, std::unique_ptr<Subscription> sub)
    : watchers_(watchers),
      filter_(std::move(filter)),
      since_seq_(since_seq),
      archive_(archive),
      sub_(std::move(sub)) {}

WatchSession::~WatchSession() {
  sub_.reset();
  watchers_->fetch_sub(1);
}

absl::Status WatchSession::Run(const WatchSink& sink) {
  // Unmasked events go out as published, without a copy of their envelope.
  auto write = [&](const kfreeze::v1::DumpEvent& e) {
    return filter_.field_mask.paths_size() == 0 ? sink.write(e) : sink.write(filter_.Shape(e));
  };
  uint64_t last_seq = 0;
  if (since_seq_ != 0) {
    for (const kfreeze::v1::DumpSummary& s : archive_->After(since_seq_)) {
      if (!filter_.Matches(s)) continue;
      kfreeze::v1::DumpEvent event;
      *event.mutable_summary() = s;
      event.set_replayed(true);
      if (!filter_.summary_only) {
        absl::StatusOr<kfreeze::v1::DumpEnvelope> e = archive_->Get(s.dump_id());
        if (!e.ok()) continue;  // removed by retention meanwhile, or corrupt (logged)
        *event.mutable_envelope() = std::move(*e);
      }
      if (!write(event)) return absl::OkStatus();
      last_seq = s.seq();
    }
  }
  if (sink.live) sink.live();
  while (!sink.cancelled()) {
    std::optional<kfreeze::v1::DumpEvent> event = sub_->Next(kWatchPoll);
    if (!event) {
      if (sub_->closed()) return absl::UnavailableError("daemon is shutting down");
      continue;
    }
    if (event->summary().seq() <= last_seq) continue;
    if (!write(*event)) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<kfreeze::v1::DaemonInfo> FreezeApi::GetInfo(const PeerIdentity& peer) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "GetInfo"));
  kfreeze::v1::DaemonInfo info;
  info.set_version(KfreezeVersion());
  info.set_build(KfreezeBuild());
  info.mutable_started_at()->set_seconds(absl::ToUnixSeconds(started_at_));
  const Limits& l = guards_.limits;
  kfreeze::v1::DaemonLimits* out = info.mutable_limits();
  out->set_max_deadline_ms(l.max_deadline_ms);
  out->set_max_labels(l.max_labels);
  out->set_max_targets(l.max_targets);
  out->set_max_watchers(l.max_watchers);
  out->set_max_concurrent_freezes(l.max_concurrent_freezes);
  out->set_max_list_entries(l.max_list_entries);
  out->set_max_name_bytes(l.max_name_bytes);
  out->set_default_max_map_entries(walkers::maps::MapCaps{}.max_hash_entries);
  out->set_max_receive_message_bytes(guards_.max_receive_message_bytes);
  for (auto& t : coordinator_->ListTargets()) *info.add_targets() = std::move(t);
  return info;
}

absl::StatusOr<kfreeze::v1::GetDumpResponse> FreezeApi::GetDump(
    const PeerIdentity& peer, const kfreeze::v1::GetDumpRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "GetDump"));
  KF_ASSIGN_OR_RETURN(kfreeze::v1::DumpEnvelope e, archive_->Get(request.dump_id()));
  kfreeze::v1::GetDumpResponse response;
  *response.mutable_envelope() = std::move(e);
  return response;
}

absl::StatusOr<kfreeze::v1::ListDumpsResponse> FreezeApi::ListDumps(
    const PeerIdentity& peer, const kfreeze::v1::ListDumpsRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "ListDumps"));
  KF_RETURN_IF_ERROR(CheckLabels(request.labels(), guards_.limits, "ListDumpsRequest.labels"));
  DumpFilter filter;
  filter.target = request.target();
  filter.schema = request.schema();
  filter.labels = request.labels();
  uint64_t before = 0;
  if (!request.page_token().empty() && !absl::SimpleAtoi(request.page_token(), &before)) {
    return absl::InvalidArgumentError("malformed page_token");
  }
  uint32_t size =
      request.page_size() == 0 ? kDefaultPageSize : std::min(request.page_size(), kMaxPageSize);
  bool more = false;
  kfreeze::v1::ListDumpsResponse response;
  for (auto& r : archive_->List(filter, before, size, &more)) *response.add_dumps() = std::move(r);
  if (more && response.dumps_size() > 0) {
    response.set_next_page_token(absl::StrCat(response.dumps().rbegin()->seq()));
  }
  return response;
}

absl::StatusOr<kfreeze::v1::ListTargetsResponse> FreezeApi::ListTargets(const PeerIdentity& peer) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "ListTargets"));
  kfreeze::v1::ListTargetsResponse response;
  for (auto& t : coordinator_->ListTargets()) *response.add_targets() = std::move(t);
  return response;
}

absl::StatusOr<kfreeze::v1::Target> FreezeApi::GetTarget(
    const PeerIdentity& peer, const kfreeze::v1::GetTargetRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kRead, "GetTarget"));
  return coordinator_->GetTarget(request.name());
}

absl::StatusOr<kfreeze::v1::Target> FreezeApi::AttachTarget(
    const PeerIdentity& peer, const kfreeze::v1::AttachTargetRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kAdmin, "AttachTarget"));
  const kfreeze::v1::TargetConfig& config = request.target();
  if (absl::Status s = CheckRpcAttach(config, guards_.rpc_attach); !s.ok()) {
    spdlog::warn("AttachTarget {} refused: {}", config.name(), std::string(s.message()));
    return s;
  }
  KF_RETURN_IF_ERROR(CheckTargetConfig(config, guards_.limits));
  absl::StatusOr<kfreeze::v1::Target> t;
  {
    absl::MutexLock lock(&attach_mu_);
    bool replacing = request.replace() && coordinator_->GetTarget(config.name()).ok();
    if (!replacing && coordinator_->ListTargets().size() >= guards_.limits.max_targets) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the daemon already has ", guards_.limits.max_targets, " targets"));
    }
    t = coordinator_->AddTarget(config, "rpc", request.replace());
  }
  if (!t.ok()) return t.status();
  // Attach is synchronous for the caller: the reply says whether it worked.
  coordinator_->WaitForAttach(config.name());
  absl::StatusOr<kfreeze::v1::Target> now = coordinator_->GetTarget(config.name());
  return now.ok() ? std::move(*now) : std::move(*t);
}

absl::Status FreezeApi::DetachTarget(const PeerIdentity& peer,
                                     const kfreeze::v1::DetachTargetRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kAdmin, "DetachTarget"));
  return coordinator_->RemoveTarget(request.name());
}

absl::StatusOr<kfreeze::v1::Target> FreezeApi::ResumeTarget(
    const PeerIdentity& peer, const kfreeze::v1::ResumeTargetRequest& request) {
  KF_RETURN_IF_ERROR(Authorize(peer, Role::kFreeze, "ResumeTarget"));
  return coordinator_->Resume(request.name());
}

}  // namespace kfreeze::server
