#include "server/fleet/fleet_responder.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fleet/headers.h"
#include "fleet/subjects.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server::fleet {

using kfreeze::fleet::MsgPtr;

FleetResponder::~FleetResponder() { Stop(); }

absl::Status FleetResponder::Start() {
  for (const std::string& subject :
       {kfreeze::fleet::FreezeWildcard(host_), kfreeze::fleet::TargetsSubject(host_),
        std::string(kfreeze::fleet::kTargetsSubject)}) {
    natsSubscription* sub = nullptr;
    natsStatus s = natsConnection_Subscribe(&sub, conn_->nc(), subject.c_str(),
                                            &FleetResponder::OnMessage, this);
    if (s != NATS_OK) {
      Stop();
      return kfreeze::fleet::NatsError(s, absl::StrCat("subscribing ", subject));
    }
    subs_.push_back(sub);
  }
  return absl::OkStatus();
}

void FleetResponder::StopAccepting() {
  {
    absl::MutexLock lock(&in_flight_->mu);
    in_flight_->stopping = true;
  }
  for (natsSubscription* sub : subs_) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  subs_.clear();
}

void FleetResponder::Stop() {
  StopAccepting();
  InFlight& f = *in_flight_;
  absl::MutexLock lock(&f.mu);
  f.mu.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &f.count));
}

void FleetResponder::OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
  static_cast<FleetResponder*>(self)->Handle(MsgPtr(msg));
}

namespace {

// Only a client's request is one: the NATS server itself can be made to deliver on our subjects
// for someone who may not publish there (a reply another service sends to a forged reply
// subject, a push consumer's messages, its heartbeats and flow control). None of those carries a
// reply inbox, and none is answered or acted on.
bool IsClientRequest(natsMsg* msg) {
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr || *reply == '\0') return false;
  if (absl::StartsWith(reply, "$JS.") || absl::StartsWith(reply, "$O.") ||
      absl::StartsWith(reply, "$SYS.")) {
    return false;
  }
  const char* status = nullptr;  // "NATS/1.0 100" and other server status lines
  return natsMsgHeader_Get(msg, "Status", &status) != NATS_OK;
}

}  // namespace

void FleetResponder::Handle(MsgPtr msg) {
  if (!IsClientRequest(msg.get())) {
    spdlog::debug("nats: ignored a message on {} that is no request",
                  natsMsg_GetSubject(msg.get()));
    return;
  }
  bool full = false;
  {
    absl::MutexLock lock(&in_flight_->mu);
    if (in_flight_->stopping) return;
    full = in_flight_->count >= kMaxInFlight;
    if (!full) ++in_flight_->count;
  }
  if (full) {
    Reply(msg.get(), "",
          absl::ResourceExhaustedError(
              absl::StrCat(kMaxInFlight, " NATS requests already in flight on ", host_)));
    return;
  }
  std::thread([this, state = in_flight_, m = std::move(msg)]() mutable {
    const std::string subject = natsMsg_GetSubject(m.get());
    if (absl::StartsWith(subject, kfreeze::fleet::kFreezeSubjectPrefix)) {
      HandleFreeze(m.get());
    } else {
      HandleTargets(m.get());
    }
    metrics_->requests.Increment();
    m.reset();
    absl::MutexLock lock(&state->mu);  // `this` may be gone once the count drops
    --state->count;
  }).detach();
}

void FleetResponder::Reply(natsMsg* msg, const std::string& body, const absl::Status& status,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  const char* reply_to = natsMsg_GetReply(msg);
  natsMsg* out = nullptr;
  natsStatus s = natsMsg_Create(&out, reply_to, nullptr, status.ok() ? body.data() : nullptr,
                                status.ok() ? static_cast<int>(body.size()) : 0);
  MsgPtr reply(out);
  if (s == NATS_OK) s = natsMsgHeader_Set(out, kfreeze::fleet::kHostHeader, host_.c_str());
  for (const auto& [k, v] : headers) {
    if (s == NATS_OK) s = natsMsgHeader_Set(out, k.c_str(), v.c_str());
  }
  if (s == NATS_OK && !status.ok()) s = kfreeze::fleet::SetStatusHeaders(out, status);
  if (s == NATS_OK) s = natsConnection_PublishMsg(conn_->nc(), out);
  if (s != NATS_OK) {
    spdlog::warn("nats: reply to {} not sent: {}", natsMsg_GetSubject(msg),
                 kfreeze::fleet::NatsError(s, "reply").ToString());
  }
}

void FleetResponder::HandleFreeze(natsMsg* msg) {
  const std::string subject = natsMsg_GetSubject(msg);
  PeerIdentity peer;
  peer.transport = PeerIdentity::Transport::kNats;
  peer.address = subject;
  std::optional<kfreeze::fleet::HostTarget> ht =
      kfreeze::fleet::ParseHostTargetSubject(kfreeze::fleet::kFreezeSubjectPrefix, subject);
  if (!ht || ht->host != host_) {
    Reply(msg, "",
          absl::InvalidArgumentError(absl::StrCat("'", subject, "' names no target of ", host_)));
    return;
  }
  kfreeze::v1::FreezeRequest request;
  if (!request.ParseFromArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg))) {
    Reply(msg, "", absl::InvalidArgumentError("the request is not a binary FreezeRequest"));
    return;
  }
  if (!request.target().empty() && request.target() != ht->target) {
    Reply(msg, "",
          absl::InvalidArgumentError(absl::StrCat("the request names target '", request.target(),
                                                  "' but was sent to '", ht->target, "'")));
    return;
  }
  if (request.keep_paused()) {
    // Nothing in the fleet could resume it: ResumeTarget is a gRPC/HTTP call on the host.
    Reply(msg, "",
          absl::InvalidArgumentError("keep_paused is refused over NATS: the fleet has no "
                                     "ResumeTarget; ask the host's kfreezed"));
    return;
  }
  request.set_target(ht->target);
  absl::StatusOr<kfreeze::v1::FreezeResponse> response = api_->Freeze(peer, request);
  if (!response.ok()) {
    Reply(msg, "", response.status());
    return;
  }
  std::vector<std::pair<std::string, std::string>> headers = {
      {kfreeze::fleet::kTargetHeader, kfreeze::fleet::HeaderValue(ht->target)},
      {kfreeze::fleet::kDumpIdHeader, response->dump_id()},
      {kfreeze::fleet::kObjectHeader, kfreeze::fleet::DumpObjectName(host_, response->dump_id())}};
  std::string body = response->SerializeAsString();
  if (static_cast<int64_t>(body.size()) > conn_->max_payload() - kReplyHeadroom) {
    // The body travels through the bucket (the publisher puts it there); the reply says so.
    response->clear_envelope();
    body = response->SerializeAsString();
    headers.emplace_back(kfreeze::fleet::kEnvelopeHeader, "object");
  }
  Reply(msg, body, absl::OkStatus(), headers);
}

void FleetResponder::HandleTargets(natsMsg* msg) {
  PeerIdentity peer;
  peer.transport = PeerIdentity::Transport::kNats;
  peer.address = natsMsg_GetSubject(msg);
  absl::StatusOr<kfreeze::v1::ListTargetsResponse> targets = api_->ListTargets(peer);
  Reply(msg, targets.ok() ? targets->SerializeAsString() : "", targets.status());
}

}  // namespace kfreeze::server::fleet
