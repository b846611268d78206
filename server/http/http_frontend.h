// kfreezed's HTTP side: the JSON API (proto3 JSON of the gRPC messages, over FreezeApi so roles,
// limits and filters are the gRPC ones), the dump event stream (Server-Sent Events, the
// WatchDumps filters as query parameters) and /metrics. cpp-httplib serves it, on its own threads.
//
//   GET  /api/v1/info                     DaemonInfo
//   GET  /api/v1/targets                  ListTargetsResponse
//   GET  /api/v1/targets/{name}           Target
//   POST /api/v1/targets/{name}:freeze    FreezeResponse (body: FreezeRequest JSON, optional)
//   GET  /api/v1/dumps?target=&schema=&label=k%3Dv&page_size=&page_token=  ListDumpsResponse
//   GET  /api/v1/dumps/{id}[?dialect=ktstr]  GetDumpResponse (ktstr: the envelope's report in
//                                            ktstr's JSON); ?format=text[&style=kernel]: the
//                                            text of `kfreeze report show`
//   GET  /api/v1/dumps/{id}?view=page        the same without map entries, which the dashboard
//                                            pages through:
//   GET  /api/v1/dumps/{id}/maps/{name}/entries?capture=early|late&offset=&limit=&q=
//                                            {"total","matched","offset","rows":[{key,value,
//                                            changed}]}: one map's entries as text, searched
//   GET  /, /assets/*                      the dashboard (embedded static files)
//   GET  /api/v1/events?target=&schema=&label=&exit_kind=&scheduler=&trigger=&summary_only=
//                       &fields=&since_dump_id=    text/event-stream of DumpEvent
//   GET  /metrics                          Prometheus text exposition
//   GET  /api/v1/fleet                     {"enabled","websocket_url","host","stream","bucket"}
//   GET  /api/v1/fleet/dumps/{host}/{id}[...]  as /api/v1/dumps/{id}, the body from the fleet's
//                                            bucket (and .../maps/{name}/entries likewise)
// Errors: the HTTP status a gRPC gateway would give, with {"code": <grpc code>, "message": ...}.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kfreeze/v1/config.pb.h"
#include "server/http/fleet_access.h"

namespace kfreeze::server {
class FreezeApi;
class DaemonMetrics;
class DumpArchive;
class DumpBus;
}  // namespace kfreeze::server

namespace kfreeze::server::http {

struct HttpDeps {
  FreezeApi* api = nullptr;
  DaemonMetrics* metrics = nullptr;
  const DumpArchive* archive = nullptr;
  const DumpBus* bus = nullptr;
  const FleetAccess* fleet = nullptr;  // null: kfreezed runs without NATS
};

class HttpFrontend {
 public:
  // Binds `listen` and serves: "unix:/path" (mode `unix_mode`); "host:port" (port 0 = any) with
  // HTTPS when `tls` names a certificate, key and client CA (client certificates required, their
  // names are the peer, as on the gRPC side); plaintext HTTP on loopback only.
  // InvalidArgument for plaintext off loopback or an incomplete `tls`; the bind's error otherwise.
  static absl::StatusOr<std::unique_ptr<HttpFrontend>> Start(
      const std::string& listen, unsigned unix_mode, HttpDeps deps,
      const kfreeze::v1::TlsConfig& tls = kfreeze::v1::TlsConfig());
  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  // Ends event streams, stops accepting, joins the server thread. Idempotent.
  void Stop();
  // "unix:/path" or "host:port" with the bound port.
  const std::string& address() const { return address_; }

 private:
  class Impl;
  explicit HttpFrontend(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace kfreeze::server::http
