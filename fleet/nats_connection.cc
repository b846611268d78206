#include "fleet/nats_connection.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace kfreeze::fleet {
namespace {

constexpr int64_t kDefaultMaxPayload = 1 << 20;

// libnats keeps the error text per thread; read it right after the failing call.
std::string LastErrorText(natsStatus s) {
  const char* text = nats_GetLastError(nullptr);
  if (text != nullptr && *text != '\0') return text;
  return natsStatus_GetText(s);
}

}  // namespace

absl::Status NatsError(natsStatus s, const std::string& what, jsErrCode js_code) {
  if (s == NATS_OK) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", LastErrorText(s));
  if (js_code != 0) absl::StrAppend(&msg, " (JetStream error ", static_cast<int>(js_code), ")");
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(msg);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_NO_RESPONDERS:
    case NATS_STALE_CONNECTION:
      return absl::UnavailableError(msg);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(msg);
    case NATS_NOT_PERMITTED:
      return absl::PermissionDeniedError(msg);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_MAX_PAYLOAD:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status OpenNatsLibrary() {
  static const natsStatus opened = nats_Open(-1);
  return NatsError(opened, "opening libnats");
}

absl::StatusOr<std::unique_ptr<NatsConnection>> NatsConnection::Connect(
    const NatsSettings& settings) {
  if (settings.servers.empty()) return absl::InvalidArgumentError("no NATS server given");
  if (absl::Status opened = OpenNatsLibrary(); !opened.ok()) return opened;
  std::unique_ptr<NatsConnection> c(new NatsConnection());
  natsStatus s = natsOptions_Create(&c->opts_);
  if (s != NATS_OK) return NatsError(s, "NATS options");
  std::vector<const char*> urls;
  for (const std::string& u : settings.servers) urls.push_back(u.c_str());
  s = natsOptions_SetServers(c->opts_, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(c->opts_, absl::ToInt64Milliseconds(settings.connect_timeout));
  if (s == NATS_OK && !settings.client_name.empty()) {
    s = natsOptions_SetName(c->opts_, settings.client_name.c_str());
  }
  if (s != NATS_OK) return NatsError(s, "NATS servers");
  if (!settings.credentials_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(c->opts_, settings.credentials_file.c_str(),
                                                nullptr);
    if (s != NATS_OK)
      return NatsError(s, absl::StrCat("NATS credentials ", settings.credentials_file));
  }
  if (!settings.ca_file.empty()) {
    s = natsOptions_SetSecure(c->opts_, true);
    if (s == NATS_OK) s = natsOptions_LoadCATrustedCertificates(c->opts_, settings.ca_file.c_str());
    if (s != NATS_OK) return NatsError(s, absl::StrCat("NATS TLS CA ", settings.ca_file));
  }
  if (!settings.cert_file.empty() || !settings.key_file.empty()) {
    s = natsOptions_LoadCertificatesChain(c->opts_, settings.cert_file.c_str(),
                                          settings.key_file.c_str());
    if (s != NATS_OK)
      return NatsError(s, absl::StrCat("NATS client certificate ", settings.cert_file));
  }
  s = natsOptions_SetErrorHandler(c->opts_, &NatsConnection::OnError, c.get());
  if (s == NATS_OK) {
    s = natsOptions_SetDisconnectedCB(c->opts_, &NatsConnection::OnDisconnected, c.get());
  }
  if (s == NATS_OK) s = natsOptions_SetClosedCB(c->opts_, &NatsConnection::OnClosed, c.get());
  if (s == NATS_OK && (settings.keep_trying || settings.reconnect_forever)) {
    s = natsOptions_SetMaxReconnect(c->opts_, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(c->opts_, 1000);
    // Kept small: nothing is published while disconnected (the publisher waits), and a stale
    // chunk flushed after a reconnect would only waste the bucket's space.
    if (s == NATS_OK) s = natsOptions_SetReconnectBufSize(c->opts_, 1 << 20);
  }
  if (s == NATS_OK && settings.keep_trying) {
    s = natsOptions_SetRetryOnFailedConnect(c->opts_, true, nullptr, nullptr);
  }
  if (s != NATS_OK) return NatsError(s, "NATS options");
  s = natsConnection_Connect(&c->nc_, c->opts_);
  // keep_trying: NATS_NOT_YET_CONNECTED is a connection that will connect in the background.
  if (s != NATS_OK && !(settings.keep_trying && s == NATS_NOT_YET_CONNECTED)) {
    return NatsError(s, absl::StrCat("connecting to NATS ", settings.servers.front()));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  s = natsConnection_JetStream(&c->js_, c->nc_, &jo);
  if (s != NATS_OK) return NatsError(s, "JetStream context");
  return c;
}

NatsConnection::~NatsConnection() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) {
    natsConnection_Close(nc_);
    // Bounded: a libnats that never calls back must not hang kfreezed's exit.
    closed_.WaitForNotificationWithTimeout(absl::Seconds(5));
    natsConnection_Destroy(nc_);
  }
  if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

int64_t NatsConnection::max_payload() const {
  const int64_t m = natsConnection_GetMaxPayload(nc_);
  return m > 0 ? m : kDefaultMaxPayload;
}

void NatsConnection::OnError(natsConnection* nc, natsSubscription*, natsStatus err, void* self) {
  if (err != NATS_NOT_PERMITTED) return;
  auto* c = static_cast<NatsConnection*>(self);
  const char* text = nullptr;
  natsConnection_GetLastError(nc, &text);
  absl::MutexLock lock(&c->err_mu_);
  c->last_permission_error_ = text != nullptr ? text : "permissions violation";
  ++c->permission_errors_;
}

void NatsConnection::OnDisconnected(natsConnection*, void* self) {
  static_cast<NatsConnection*>(self)->disconnects_.fetch_add(1);
}

void NatsConnection::OnClosed(natsConnection*, void* self) {
  auto* c = static_cast<NatsConnection*>(self);
  if (!c->closed_.HasBeenNotified()) c->closed_.Notify();
}

absl::StatusOr<MsgPtr> NatsConnection::Request(natsMsg* request, absl::Duration timeout) {
  const std::string subject = natsMsg_GetSubject(request);
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK) return NatsError(s, "inbox");
  natsSubscription* sub = nullptr;
  s = natsConnection_SubscribeSync(&sub, nc_, inbox);
  uint64_t errors_before = 0;
  {
    absl::MutexLock lock(&err_mu_);
    errors_before = permission_errors_;
  }
  natsMsg* out = nullptr;
  if (s == NATS_OK) {
    natsMsg* req = nullptr;
    s = natsMsg_Create(&req, subject.c_str(), inbox, natsMsg_GetData(request),
                       natsMsg_GetDataLength(request));
    const char** keys = nullptr;
    int count = 0;
    if (s == NATS_OK && natsMsgHeader_Keys(request, &keys, &count) == NATS_OK) {
      for (int i = 0; i < count; ++i) {
        const char* v = nullptr;
        if (natsMsgHeader_Get(request, keys[i], &v) == NATS_OK) natsMsgHeader_Set(req, keys[i], v);
      }
      free(keys);
    }
    if (s == NATS_OK) s = natsConnection_PublishMsg(nc_, req);
    natsMsg_Destroy(req);
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc_, absl::ToInt64Milliseconds(timeout));
  }
  absl::Status result;
  const absl::Time deadline = absl::Now() + timeout;
  while (s == NATS_OK) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      s = NATS_TIMEOUT;
      break;
    }
    s = natsSubscription_NextMsg(
        &out, sub, std::min<int64_t>(100, std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
    if (s == NATS_OK) break;
    if (s != NATS_TIMEOUT) break;
    s = NATS_OK;
    absl::MutexLock lock(&err_mu_);
    if (permission_errors_ != errors_before &&
        last_permission_error_.find(subject) != std::string::npos) {
      result = absl::PermissionDeniedError(
          absl::StrCat("NATS refused the request on ", subject, ": ", last_permission_error_));
      break;
    }
  }
  if (sub != nullptr) natsSubscription_Destroy(sub);
  natsInbox_Destroy(inbox);
  if (!result.ok()) return result;
  if (s != NATS_OK) {
    if (s == NATS_NO_RESPONDERS) {
      return absl::NotFoundError(absl::StrCat("nothing answers on ", subject));
    }
    if (s == NATS_TIMEOUT) {
      return absl::DeadlineExceededError(
          absl::StrCat("no reply on ", subject, " within ", absl::FormatDuration(timeout)));
    }
    return NatsError(s, absl::StrCat("request on ", subject));
  }
  MsgPtr reply(out);
  if (natsMsg_IsNoResponders(out)) {
    return absl::NotFoundError(absl::StrCat("nothing answers on ", subject));
  }
  return reply;
}

absl::StatusOr<std::vector<MsgPtr>> NatsConnection::Gather(const std::string& subject,
                                                           absl::Duration window,
                                                           size_t max_replies) {
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s != NATS_OK) return NatsError(s, "inbox");
  natsSubscription* sub = nullptr;
  s = natsConnection_SubscribeSync(&sub, nc_, inbox);
  if (s == NATS_OK) s = natsConnection_PublishRequest(nc_, subject.c_str(), inbox, nullptr, 0);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(nc_, absl::ToInt64Milliseconds(window));
  std::vector<MsgPtr> replies;
  const absl::Time deadline = absl::Now() + window;
  while (s == NATS_OK && replies.size() < max_replies) {
    const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (left <= 0) break;
    natsMsg* m = nullptr;
    natsStatus n = natsSubscription_NextMsg(&m, sub, left);
    if (n == NATS_TIMEOUT || n == NATS_NO_RESPONDERS) break;  // none (more) answered
    if (n != NATS_OK) {
      s = n;
      break;
    }
    if (natsMsg_IsNoResponders(m)) {
      natsMsg_Destroy(m);
      break;
    }
    replies.emplace_back(m);
  }
  if (sub != nullptr) natsSubscription_Destroy(sub);
  natsInbox_Destroy(inbox);
  if (s != NATS_OK) return NatsError(s, absl::StrCat("request on ", subject));
  return replies;
}

absl::Status AddOrUpdateStream(NatsConnection* conn, jsStreamConfig& cfg, int replicas,
                               absl::Duration max_age, int64_t max_bytes, const std::string& what) {
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  cfg.MaxAge = absl::ToInt64Nanoseconds(max_age);
  cfg.MaxBytes = max_bytes > 0 ? max_bytes : -1;
  jsErrCode jerr = jsErrCode(0);
  jsStreamInfo* si = nullptr;
  natsStatus s = js_AddStream(&si, conn->js(), &cfg, nullptr, &jerr);
  if (s != NATS_OK && jerr == JSStreamNameExistErr) {
    jerr = jsErrCode(0);
    s = js_UpdateStream(&si, conn->js(), &cfg, nullptr, &jerr);
  }
  if (si != nullptr) jsStreamInfo_Destroy(si);
  return NatsError(s, what, jerr);
}

}  // namespace kfreeze::fleet
