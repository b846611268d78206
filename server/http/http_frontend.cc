#include "server/http/http_frontend.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include <arpa/inet.h>
#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/report/render_text.h"
#include "core/report/report_json.h"
#include "server/daemon/freeze_api.h"
#include "server/daemon/listeners.h"
#include "server/daemon/metrics.h"
#include "server/http/dashboard_assets.h"
#include "server/http/http_status.h"
#include "server/http/map_pages.h"
#include "server/http/query_params.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server::http {
namespace {

// With a charset, cpp-httplib 0.11 does not compress the body: its brotli at the default quality
// took 7.6 s for the 3.5 MB page view of a 2,000-task dump, where sending it plain takes
// milliseconds on loopback.
constexpr char kJson[] = "application/json; charset=utf-8";
// Request bodies are a FreezeRequest at most.
constexpr size_t kMaxBodyBytes = 1 << 20;
// A stream with nothing to say sends a comment this often, so proxies and clients see it alive.
constexpr absl::Duration kKeepAlive = absl::Seconds(15);
// Threads beyond the event streams (which each hold one): API calls, metrics scrapes.
constexpr size_t kSpareThreads = 8;
// Map pages: rows per request by default and at most.
constexpr size_t kDefaultMapPage = 200;
constexpr size_t kMaxMapPage = 2000;
// A client that stops reading is dropped after this long (its stream ends, its slot frees).
constexpr time_t kWriteTimeoutSeconds = 10;

void Fail(httplib::Response& res, const absl::Status& status) {
  res.status = HttpStatusOf(status.code());
  res.set_content(ErrorBody(status), kJson);
}

void Reply(httplib::Response& res, const google::protobuf::Message& message,
           report::JsonDialect dialect = report::JsonDialect::kProto3) {
  absl::StatusOr<std::string> json = report::ToJson(message, dialect);
  if (!json.ok()) return Fail(res, json.status());
  res.set_content(std::move(*json), kJson);
}

template <typename T>
void Reply(httplib::Response& res, const absl::StatusOr<T>& result) {
  if (!result.ok()) return Fail(res, result.status());
  Reply(res, *result);
}

QueryParams ParamsOf(const httplib::Request& req) {
  return QueryParams(req.params.begin(), req.params.end());
}

// One SSE event: each line of the JSON gets its own "data:" (the format's rule for newlines).
std::string SseEvent(const kfreeze::v1::DumpEvent& event, const std::string& json) {
  std::string out = absl::StrCat("event: dump\nid: ", event.summary().dump_id(), "\n");
  for (absl::string_view line : absl::StrSplit(json, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "data: ", line, "\n");
  }
  out += "\n";
  return out;
}

// How the listener's clients are named (HTTP gives no unix peer credentials).
enum class Transport { kUnix, kLoopback, kTls };

// The subject CN and subject alternative names (DNS, URI, email, IP) of the client certificate
// of a TLS connection, as the gRPC side names TLS peers.
std::vector<std::string> CertificateNames(const SSL* ssl) {
  std::vector<std::string> names;
  X509* cert = ssl != nullptr ? SSL_get1_peer_certificate(ssl) : nullptr;
  if (cert == nullptr) return names;
  char cn[256];
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0) {
    names.emplace_back(cn);
  }
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS || n->type == GEN_URI || n->type == GEN_EMAIL) {
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.ia5)),
                         static_cast<size_t>(ASN1_STRING_length(n->d.ia5)));
    } else if (n->type == GEN_IPADD) {
      char ip[INET6_ADDRSTRLEN] = {};
      const int len = ASN1_STRING_length(n->d.ip);
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
      if (family != -1 && inet_ntop(family, ASN1_STRING_get0_data(n->d.ip), ip, sizeof(ip))) {
        names.emplace_back(ip);
      }
    }
  }
  GENERAL_NAMES_free(sans);
  X509_free(cert);
  return names;
}

}  // namespace

class HttpFrontend::Impl {
 public:
  Impl(HttpDeps deps, Transport transport, std::string unix_path,
       std::unique_ptr<httplib::Server> server)
      : deps_(deps),
        transport_(transport),
        unix_path_(std::move(unix_path)),
        server_(std::move(server)) {
    const size_t threads = deps_.api->guards().limits.max_watchers + kSpareThreads;
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    server_->set_payload_max_length(kMaxBodyBytes);
    server_->set_write_timeout(kWriteTimeoutSeconds, 0);
    Routes();
  }

  httplib::Server& server() { return *server_; }

  void Serve() {
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }

  void Stop() {
    stopping_ = true;
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // HTTP gives no unix peer credentials: a unix-socket client is "http_unix" (its socket's mode
  // is the access control). A loopback TCP client is "insecure_tcp" and an HTTPS client is named
  // by its certificate, as on the gRPC side.
  PeerIdentity Peer(const httplib::Request& req) const {
    PeerIdentity peer;
    switch (transport_) {
      case Transport::kUnix:
        peer.transport = PeerIdentity::Transport::kHttpUnix;
        peer.address = unix_path_;
        break;
      case Transport::kLoopback:
        peer.transport = PeerIdentity::Transport::kInsecureTcp;
        peer.address = absl::StrCat("http ", req.remote_addr, ":", req.remote_port);
        break;
      case Transport::kTls:
        peer.transport = PeerIdentity::Transport::kTls;
        peer.tls_names = CertificateNames(req.ssl);
        peer.address = absl::StrCat("https ", req.remote_addr, ":", req.remote_port);
        break;
    }
    return peer;
  }

  void Routes() {
    server_->Get("/api/v1/info", [this](const httplib::Request& req, httplib::Response& res) {
      Reply(res, deps_.api->GetInfo(Peer(req)));
    });
    server_->Get("/api/v1/targets", [this](const httplib::Request& req, httplib::Response& res) {
      Reply(res, deps_.api->ListTargets(Peer(req)));
    });
    server_->Get(R"(/api/v1/targets/([^/:]+))",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   kfreeze::v1::GetTargetRequest get;
                   get.set_name(req.matches[1]);
                   Reply(res, deps_.api->GetTarget(Peer(req), get));
                 });
    server_->Post(
        R"(/api/v1/targets/([^/:]+):freeze)",
        [this](const httplib::Request& req, httplib::Response& res) { Freeze(req, res); });
    server_->Get("/api/v1/dumps", [this](const httplib::Request& req, httplib::Response& res) {
      absl::StatusOr<kfreeze::v1::ListDumpsRequest> list = ListDumpsRequestFromQuery(ParamsOf(req));
      if (!list.ok()) return Fail(res, list.status());
      Reply(res, deps_.api->ListDumps(Peer(req), *list));
    });
    server_->Get(
        R"(/api/v1/dumps/([^/]+)/maps/([^/]+)/entries)",
        [this](const httplib::Request& req, httplib::Response& res) { MapPage(req, res); });
    server_->Get(R"(/api/v1/dumps/([^/]+))", [this](const httplib::Request& req,
                                                    httplib::Response& res) { GetDump(req, res); });
    server_->Get("/api/v1/fleet", [this](const httplib::Request& req, httplib::Response& res) {
      FleetInfo(req, res);
    });
    server_->Get(
        R"(/api/v1/fleet/dumps/([^/]+)/([^/]+)/maps/([^/]+)/entries)",
        [this](const httplib::Request& req, httplib::Response& res) { FleetMapPage(req, res); });
    server_->Get(
        R"(/api/v1/fleet/dumps/([^/]+)/([^/]+))",
        [this](const httplib::Request& req, httplib::Response& res) { FleetGetDump(req, res); });
    server_->Get("/api/v1/events",
                 [this](const httplib::Request& req, httplib::Response& res) { Events(req, res); });
    for (const EmbeddedAsset& asset : DashboardAssets()) {
      server_->Get(
          std::string(asset.path), [&asset](const httplib::Request&, httplib::Response& res) {
            res.set_header("Cache-Control", "no-cache");
            res.set_header("X-Content-Type-Options", "nosniff");
            // The page loads nothing from elsewhere; a policy keeps it that way.
            // connect-src: the fleet view's NATS websocket, on a server of the user's choosing.
            res.set_header("Content-Security-Policy",
                           "default-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self' ws: wss:");
            res.set_content(asset.body.data(), asset.body.size(), std::string(asset.content_type));
          });
    }
    server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(deps_.metrics->Scrape(deps_.archive, deps_.bus),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
  }

  void Freeze(const httplib::Request& req, httplib::Response& res) {
    kfreeze::v1::FreezeRequest freeze;
    if (!req.body.empty()) {
      absl::Status parsed = report::FromJson(req.body, report::JsonDialect::kProto3, &freeze);
      if (!parsed.ok()) {
        return Fail(res, absl::InvalidArgumentError(
                             absl::StrCat("body is not a FreezeRequest: ", parsed.message())));
      }
    }
    const std::string target = req.matches[1];
    if (!freeze.target().empty() && freeze.target() != target) {
      return Fail(
          res, absl::InvalidArgumentError(absl::StrCat("the body names target \"", freeze.target(),
                                                       "\", the path \"", target, "\"")));
    }
    freeze.set_target(target);
    Reply(res, deps_.api->Freeze(Peer(req), freeze));
  }

  void GetDump(const httplib::Request& req, httplib::Response& res) {
    kfreeze::v1::GetDumpRequest get;
    get.set_dump_id(req.matches[1]);
    ServeDump(req, res, deps_.api->GetDump(Peer(req), get));
  }

  void FleetInfo(const httplib::Request& req, httplib::Response& res) {
    if (absl::Status s = deps_.api->CheckRead(Peer(req), "FleetInfo"); !s.ok()) return Fail(res, s);
    nlohmann::json body = {{"enabled", deps_.fleet != nullptr}};
    if (deps_.fleet != nullptr) {
      body["websocket_url"] = deps_.fleet->websocket_url;
      body["host"] = deps_.fleet->host;
      body["stream"] = deps_.fleet->stream;
      body["bucket"] = deps_.fleet->bucket;
    }
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
  }

  // A fleet dump's envelope, for a peer that may read, or why not.
  absl::StatusOr<kfreeze::v1::DumpEnvelope> FleetEnvelope(const PeerIdentity& peer,
                                                          const std::string& host,
                                                          const std::string& id) {
    if (absl::Status s = deps_.api->CheckRead(peer, "FleetGetDump"); !s.ok()) return s;
    if (deps_.fleet == nullptr) {
      return absl::FailedPreconditionError("kfreezed runs without NATS (no --nats)");
    }
    return deps_.fleet->fetch(host, id);
  }

  void FleetGetDump(const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<kfreeze::v1::DumpEnvelope> envelope =
        FleetEnvelope(Peer(req), req.matches[1], req.matches[2]);
    if (!envelope.ok()) return ServeDump(req, res, envelope.status());
    kfreeze::v1::GetDumpResponse dump;
    *dump.mutable_envelope() = std::move(*envelope);
    ServeDump(req, res, std::move(dump));
  }

  void FleetMapPage(const httplib::Request& req, httplib::Response& res) {
    const PeerIdentity peer = Peer(req);
    if (absl::Status s = deps_.api->CheckRead(peer, "FleetGetDump"); !s.ok()) return Fail(res, s);
    const std::string host = req.matches[1], id = req.matches[2];
    // Local dump ids have no '/': the cache never mixes a fleet dump with a local one.
    MapPage(req, res, absl::StrCat(host, "/", id), req.matches[3],
            [&]() { return FleetEnvelope(peer, host, id); });
  }

  void ServeDump(const httplib::Request& req, httplib::Response& res,
                 absl::StatusOr<kfreeze::v1::GetDumpResponse> dump) {
    std::string dialect = req.get_param_value("dialect");
    if (!dialect.empty() && dialect != "proto3" && dialect != "ktstr") {
      return Fail(res, absl::InvalidArgumentError("dialect is proto3 (default) or ktstr"));
    }
    const std::string format = req.get_param_value("format");
    const std::string style = req.get_param_value("style");
    if (!format.empty() && format != "json" && format != "text") {
      return Fail(res, absl::InvalidArgumentError("format is json (default) or text"));
    }
    if (!style.empty() && style != "default" && style != "kernel") {
      return Fail(res, absl::InvalidArgumentError("style is default or kernel"));
    }
    if (!dump.ok()) return Fail(res, dump.status());
    if (format == "text") {
      res.set_content(report::RenderEnvelopeText(dump->envelope(),
                                                 style == "kernel" ? report::TextStyle::kKernel
                                                                   : report::TextStyle::kDefault),
                      "text/plain; charset=utf-8");
      return;
    }
    if (dialect != "ktstr") {
      const std::string view = req.get_param_value("view");
      if (view == "page") StripMapEntries(*dump->mutable_envelope());
      return Reply(res, *dump);
    }
    // ktstr's JSON is that of the report itself (single, dual or degraded), as ktstr writes it.
    const kfreeze::v1::DumpEnvelope& e = dump->envelope();
    switch (e.report_case()) {
      case kfreeze::v1::DumpEnvelope::kSingle:
        return Reply(res, e.single(), report::JsonDialect::kKtstr);
      case kfreeze::v1::DumpEnvelope::kDual:
        return Reply(res, e.dual(), report::JsonDialect::kKtstr);
      case kfreeze::v1::DumpEnvelope::kDegraded:
        return Reply(res, e.degraded(), report::JsonDialect::kKtstr);
      case kfreeze::v1::DumpEnvelope::REPORT_NOT_SET:
        break;
    }
    Fail(res, absl::DataLossError("the archived dump has no report"));
  }

  // One page of a map's entries as text: {"total", "matched", "offset", "rows": [{"key", "value",
  // "changed"}]}; q filters on the server (a substring of the key or the value).
  void MapPage(const httplib::Request& req, httplib::Response& res) {
    const PeerIdentity peer = Peer(req);
    if (absl::Status s = deps_.api->CheckRead(peer, "GetDump"); !s.ok()) return Fail(res, s);
    const std::string id = req.matches[1];
    MapPage(req, res, id, req.matches[2], [&]() -> absl::StatusOr<kfreeze::v1::DumpEnvelope> {
      kfreeze::v1::GetDumpRequest get;
      get.set_dump_id(id);
      absl::StatusOr<kfreeze::v1::GetDumpResponse> dump = deps_.api->GetDump(peer, get);
      if (!dump.ok()) return dump.status();
      return std::move(*dump->mutable_envelope());
    });
  }

  // One page of map `name`'s entries of the dump `cache_key` names, loaded by `load`.
  void MapPage(const httplib::Request& req, httplib::Response& res, const std::string& cache_key,
               const std::string& name, const MapRowCache::Loader& load) {
    size_t offset = 0, limit = kDefaultMapPage;
    if ((req.has_param("offset") && !absl::SimpleAtoi(req.get_param_value("offset"), &offset)) ||
        (req.has_param("limit") && !absl::SimpleAtoi(req.get_param_value("limit"), &limit))) {
      return Fail(res, absl::InvalidArgumentError("offset and limit are numbers"));
    }
    limit = std::min(limit, kMaxMapPage);
    absl::StatusOr<std::shared_ptr<const MapRows>> rows =
        map_rows_.Get(cache_key, req.get_param_value("capture"), name, load);
    if (!rows.ok()) return Fail(res, rows.status());
    const MapRows& all = **rows;
    const std::string q = req.get_param_value("q");
    nlohmann::json page = nlohmann::json::array();
    size_t matched = 0;
    for (size_t i = 0; i < all.keys.size(); ++i) {
      if (!q.empty() && all.keys[i].find(q) == std::string::npos &&
          all.values[i].find(q) == std::string::npos) {
        continue;
      }
      if (matched >= offset && matched - offset < limit) {
        page.push_back(
            {{"key", all.keys[i]}, {"value", all.values[i]}, {"changed", all.changed[i]}});
      }
      ++matched;
    }
    nlohmann::json body = {{"total", all.keys.size()},
                           {"matched", matched},
                           {"offset", offset},
                           {"rows", std::move(page)}};
    res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kJson);
  }

  void Events(const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<kfreeze::v1::WatchRequest> watch = WatchRequestFromQuery(ParamsOf(req));
    if (!watch.ok()) return Fail(res, watch.status());
    // A reconnecting EventSource resumes after the last event it saw.
    if (watch->since_dump_id().empty() && req.has_header("Last-Event-ID")) {
      watch->set_since_dump_id(req.get_header_value("Last-Event-ID"));
    }
    absl::StatusOr<std::unique_ptr<WatchSession>> opened = deps_.api->OpenWatch(Peer(req), *watch);
    if (!opened.ok()) return Fail(res, opened.status());
    std::shared_ptr<WatchSession> session = std::move(*opened);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [this, session](size_t, httplib::DataSink& out) {
          absl::Time last_write = absl::Now();
          auto send = [&](const std::string& text) {
            last_write = absl::Now();
            return out.is_writable() && out.write(text.data(), text.size());
          };
          WatchSink sink;
          sink.write = [&](const kfreeze::v1::DumpEvent& event) {
            absl::StatusOr<std::string> json = report::ToJson(event, report::JsonDialect::kProto3);
            if (!json.ok()) {
              spdlog::warn("event stream: {} not sent: {}", event.summary().dump_id(),
                           json.status().ToString());
              return true;  // one unprintable dump does not end the stream
            }
            return send(SseEvent(event, *json));
          };
          sink.live = [&] { send(": live\n\n"); };
          sink.cancelled = [&] {
            if (stopping_ || !out.is_writable()) return true;
            return absl::Now() - last_write >= kKeepAlive && !send(": keepalive\n\n");
          };
          absl::Status ended = session->Run(sink);
          if (!ended.ok()) {
            send(absl::StrCat("event: error\ndata: ", ErrorBody(ended), "\n"));
          }
          out.done();
          return true;
        });
  }

  const HttpDeps deps_;
  const Transport transport_;
  const std::string unix_path_;
  std::unique_ptr<httplib::Server> server_;
  MapRowCache map_rows_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

HttpFrontend::HttpFrontend(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpFrontend::~HttpFrontend() { Stop(); }

void HttpFrontend::Stop() {
  if (impl_) impl_->Stop();
}

absl::StatusOr<std::unique_ptr<HttpFrontend>> HttpFrontend::Start(
    const std::string& listen, unsigned unix_mode, HttpDeps deps,
    const kfreeze::v1::TlsConfig& tls) {
  absl::StatusOr<ListenAddress> address = ParseListenAddress(listen);
  if (!address.ok()) return address.status();
  const bool has_tls = !tls.cert_file().empty() || !tls.key_file().empty();
  Transport transport = Transport::kUnix;
  std::unique_ptr<httplib::Server> chosen;
  if (address->is_unix) {
    chosen = std::make_unique<httplib::Server>();
  } else if (has_tls) {
    if (tls.cert_file().empty() || tls.key_file().empty() || tls.client_ca_file().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http ", listen, ": HTTPS needs tls.cert_file, key_file and client_ca_file"));
    }
    // Client certificates are required and verified against client_ca_file.
    auto https = std::make_unique<httplib::SSLServer>(
        tls.cert_file().c_str(), tls.key_file().c_str(), tls.client_ca_file().c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--http ", listen, ": the TLS certificate, key or client CA cannot be loaded"));
    }
    chosen = std::move(https);
    transport = Transport::kTls;
  } else if (address->loopback) {
    chosen = std::make_unique<httplib::Server>();
    transport = Transport::kLoopback;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--http ", listen,
        ": plaintext HTTP binds a unix socket or loopback only; off loopback it needs the "
        "config's tls (cert_file, key_file, client_ca_file)"));
  }
  auto impl = std::make_unique<Impl>(deps, transport, address->path, std::move(chosen));
  httplib::Server& server = impl->server();
  std::string bound;
  if (address->is_unix) {
    if (absl::Status s = PrepareUnixSocket(address->path); !s.ok()) return s;
    server.set_address_family(AF_UNIX);
    if (!server.bind_to_port(address->path, 80)) {
      return absl::UnavailableError(absl::StrCat("--http ", listen, ": cannot bind"));
    }
    if (chmod(address->path.c_str(), unix_mode) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("--http ", listen, ": cannot set the socket's mode"));
    }
    bound = absl::StrCat("unix:", address->path);
  } else {
    int port = address->port;
    if (port == 0) {
      port = server.bind_to_any_port(address->host);
      if (port < 0) port = 0;
    } else if (!server.bind_to_port(address->host, port)) {
      port = 0;
    }
    if (port == 0) {
      return absl::UnavailableError(absl::StrCat("--http ", listen, ": cannot bind"));
    }
    bound = absl::StrCat(address->host.find(':') != std::string::npos ? "[" : "", address->host,
                         address->host.find(':') != std::string::npos ? "]" : "", ":", port);
  }
  impl->Serve();
  std::unique_ptr<HttpFrontend> frontend(new HttpFrontend(std::move(impl)));
  frontend->address_ = bound;
  spdlog::info("http: serving {}", bound);
  return frontend;
}

}  // namespace kfreeze::server::http
