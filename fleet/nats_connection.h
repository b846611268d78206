// One connection to a NATS cluster (libnats) and its JetStream context, with libnats' statuses
// turned into absl::Status. The daemon connects in the background and reconnects forever; a CLI
// connects once and fails with the reason.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "nats/nats.h"

namespace kfreeze::fleet {

struct NatsSettings {
  std::vector<std::string> servers;  // nats://[user:pw@]host:port, tls://...
  std::string credentials_file;      // nsc .creds (JWT + seed)
  std::string ca_file;               // enables TLS: the servers' CA
  std::string cert_file;             // client certificate (with key_file)
  std::string key_file;
  std::string client_name;  // shown by the server's /connz
  absl::Duration connect_timeout = absl::Seconds(2);
  // Daemon mode: the first connect may fail (the connection keeps trying in the background) and
  // reconnects never give up.
  bool keep_trying = false;
  // Reconnects never give up, but the first connect must succeed (a long-running client).
  bool reconnect_forever = false;
};

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

// libnats' status (and JetStream's error code, when there is one) as an absl::Status naming
// `what`: NATS_TIMEOUT -> DeadlineExceeded, no server/closed/no responders -> Unavailable,
// NATS_NOT_FOUND -> NotFound, NATS_NOT_PERMITTED -> PermissionDenied, the rest Internal.
absl::Status NatsError(natsStatus s, const std::string& what, jsErrCode js_code = jsErrCode(0));

// Creates the file-backed stream `cfg` describes, or updates it to `cfg`, with this retention
// (max_age 0 = forever, max_bytes 0 = unbounded). `what` names it in errors.
absl::Status AddOrUpdateStream(class NatsConnection* conn, jsStreamConfig& cfg, int replicas,
                               absl::Duration max_age, int64_t max_bytes, const std::string& what);

// libnats' global state (its message GC among it) must be opened before any natsMsg is made;
// Connect does it, a message built without a connection needs this first. Idempotent.
absl::Status OpenNatsLibrary();

class NatsConnection {
 public:
  static absl::StatusOr<std::unique_ptr<NatsConnection>> Connect(const NatsSettings& settings);
  ~NatsConnection();
  NatsConnection(const NatsConnection&) = delete;
  NatsConnection& operator=(const NatsConnection&) = delete;

  natsConnection* nc() const { return nc_; }
  jsCtx* js() const { return js_; }
  bool connected() const { return natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED; }
  // Largest message the connected server accepts (its max_payload); 1 MiB until connected.
  int64_t max_payload() const;
  // Disconnections since Connect (reconnects are libnats' own).
  uint64_t disconnects() const { return disconnects_.load(); }

  // Request-reply that tells a refusal from silence: the server's "Permissions Violation" for
  // the request's subject is PermissionDenied at once (libnats would only time out), no
  // subscriber is NotFound, no reply within `timeout` DeadlineExceeded.
  absl::StatusOr<MsgPtr> Request(natsMsg* request, absl::Duration timeout);
  // Every reply that arrives within `window` to one request on `subject` (the fleet listing: each
  // daemon answers). At most `max_replies`.
  absl::StatusOr<std::vector<MsgPtr>> Gather(const std::string& subject, absl::Duration window,
                                             size_t max_replies);

 private:
  NatsConnection() = default;
  static void OnError(natsConnection* nc, natsSubscription* sub, natsStatus err, void* self);
  static void OnDisconnected(natsConnection* nc, void* self);
  static void OnClosed(natsConnection* nc, void* self);

  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  std::atomic<uint64_t> disconnects_{0};
  // libnats runs callbacks on its own thread after Close returns; the closed callback comes last,
  // and the destructor waits for it before `this` (every callback's closure) goes.
  absl::Notification closed_;
  // The last asynchronous permission error the server sent (its text), and how many so far.
  mutable absl::Mutex err_mu_;
  std::string last_permission_error_ ABSL_GUARDED_BY(err_mu_);
  uint64_t permission_errors_ ABSL_GUARDED_BY(err_mu_) = 0;
};

}  // namespace kfreeze::fleet
