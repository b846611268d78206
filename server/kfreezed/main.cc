// kfreezed: the kfreeze daemon. Config from --config (JSON Config proto), flags override it.
//   kfreezed [--config FILE] [--listen unix:/path|host:port]... [--target name=N,ram=P[,qmp=S]]...
//            [--archive-dir DIR] [--state-dir DIR] [--insecure-tcp] [--log-level info]
//            [--http unix:/path|127.0.0.1:port]...
//            [--nats nats://h1:4222,nats://h2:4222 [--nats-creds FILE] [--host NAME]]
// SIGTERM/SIGINT: drain freezes, resume paused VMs, close streams, exit. SIGHUP: reload targets.
// Any other death (SIGKILL, OOM): the resumer process resumes the VMs kfreezed held paused, and
// the next kfreezed reconciles the pause markers left in --state-dir (server/daemon/pause_*.h).
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "core/dump/standard/standard_attachment.h"
#include "server/daemon/config.h"
#include "server/daemon/daemon.h"
#include "server/daemon/listeners.h"
#include "server/daemon/pause_ledger.h"
#include "server/daemon/pause_recovery.h"
#include "server/daemon/resumer.h"
#include "server/fleet/fleet_link.h"
#include "server/http/http_frontend.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, config, "", "JSON config file (kfreeze.v1.Config)");
ABSL_FLAG(std::string, archive_dir, "", "dump archive directory (overrides archive.dir)");
ABSL_FLAG(bool, insecure_tcp, false, "allow plaintext TCP listeners (loopback addresses only)");
ABSL_FLAG(std::string, log_level, "info", "trace|debug|info|warn|error");
ABSL_FLAG(std::string, state_dir, "",
          "where kfreezed records the VMs it holds paused, for a restarted kfreezed to resume "
          "(default: $STATE_DIRECTORY/paused-vms, else /run/kfreezed/paused-vms, else "
          "ARCHIVE_DIR/paused-vms)");
// Repeatable; taken out of argv before absl parses (absl keeps only the last occurrence). Declared
// here so --help lists them.
ABSL_FLAG(std::string, listen, "",
          "repeatable: unix:/path or host:port (default unix:/run/kfreeze/kfreezed.sock)");
ABSL_FLAG(std::string, http, "",
          "repeatable: serve the HTTP side (JSON API, event stream, /metrics, dashboard) on "
          "unix:/path, a loopback host:port, or host:port with HTTPS (the config's tls)");
ABSL_FLAG(std::string, nats, "",
          "publish dumps to and take freeze requests from this NATS JetStream cluster: "
          "nats://host:port[,nats://host:port...] (overrides nats.servers; docs/design/fleet.md)");
ABSL_FLAG(std::string, nats_creds, "", "NATS credentials file (overrides nats.credentials_file)");
ABSL_FLAG(std::string, host, "",
          "this daemon's name in the NATS fleet (overrides nats.host; default: the hostname)");
ABSL_FLAG(std::string, target, "",
          "repeatable: name=NAME,ram=PATH[,qmp=SOCK][,pid=N][,layout=SPEC][,btf=PATH]"
          "[,deadline_ms=N][,late=1][,early=1][,watchdog_ms=N]");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "kfreezed: %s\n", message.c_str());
  return 1;
}

// A VM whose pause was recorded by a kfreezed that died and whose resumer did not get to it.
constexpr absl::Duration kReconcileConnectBudget = absl::Seconds(3);

}  // namespace

int main(int argc, char** argv) {
  using namespace kfreeze::server;
  // The resumer (server/daemon/resumer.h) is this binary in a hidden mode: no flags, no threads.
  if (argc >= 2 && std::strcmp(argv[1], kResumerFlag) == 0) return ResumerMain(argc, argv);
  // glibc gives each allocating thread an arena of its own (up to 8 per core) and gRPC's sync
  // server spreads Freeze calls over its threads: RssAnon crept up 14 % over 1,000 freezes
  // (bench/guest/freeze_latency.py). Two arenas keep it flat (1.01x). An operator's
  // MALLOC_ARENA_MAX wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  std::vector<std::string> listens = ExtractRepeatedFlag(&argc, argv, "listen");
  std::vector<std::string> targets = ExtractRepeatedFlag(&argc, argv, "target");
  std::vector<std::string> https = ExtractRepeatedFlag(&argc, argv, "http");
  NormalizeFlagDashes(argc, argv);
  absl::SetProgramUsageMessage(
      "kfreeze daemon: freezes VMs and serves their kernel state over gRPC");
  absl::ParseCommandLine(argc, argv);
  spdlog::set_level(spdlog::level::from_str(absl::GetFlag(FLAGS_log_level)));

  kfreeze::v1::Config config;
  std::string config_path = absl::GetFlag(FLAGS_config);
  if (!config_path.empty()) {
    absl::StatusOr<kfreeze::v1::Config> loaded = LoadConfigFile(config_path);
    if (!loaded.ok()) return Fail(std::string(loaded.status().message()));
    config = std::move(*loaded);
  }
  if (!listens.empty()) {
    config.clear_listen();
    for (const std::string& l : listens) config.add_listen(l);
  }
  if (!absl::GetFlag(FLAGS_archive_dir).empty()) {
    config.mutable_archive()->set_dir(absl::GetFlag(FLAGS_archive_dir));
  }
  if (absl::GetFlag(FLAGS_insecure_tcp)) config.set_insecure_tcp(true);
  if (const std::string nats = absl::GetFlag(FLAGS_nats); !nats.empty()) {
    config.mutable_nats()->clear_servers();
    for (absl::string_view url : absl::StrSplit(nats, ',', absl::SkipWhitespace())) {
      config.mutable_nats()->add_servers(std::string(url));
    }
  }
  if (!absl::GetFlag(FLAGS_nats_creds).empty()) {
    config.mutable_nats()->set_credentials_file(absl::GetFlag(FLAGS_nats_creds));
  }
  if (!absl::GetFlag(FLAGS_host).empty())
    config.mutable_nats()->set_host(absl::GetFlag(FLAGS_host));
  if (!https.empty()) {
    config.clear_http_listen();
    for (const std::string& h : https) config.add_http_listen(h);
  }
  ApplyDefaults(config);
  const std::vector<std::string> http_listens(config.http_listen().begin(),
                                              config.http_listen().end());
  const kfreeze::v1::TlsConfig http_tls = config.tls();
  const kfreeze::v1::NatsConfig nats_config = config.nats();
  absl::StatusOr<unsigned> socket_mode = ParseSocketMode(config.unix_socket_mode());
  if (!socket_mode.ok()) return Fail(std::string(socket_mode.status().message()));

  DaemonOptions options;
  for (const std::string& spec : targets) {
    absl::StatusOr<kfreeze::v1::TargetConfig> t = ParseTargetFlag(spec);
    if (!t.ok()) return Fail(std::string(t.status().message()));
    options.flag_targets.push_back(std::move(*t));
  }
  options.config = std::move(config);
  options.config_path = config_path;
  options.attacher = kfreeze::dump::StandardAttacher(kfreeze::dump::DefaultProviders());

  // Signals are taken by sigwait() below; every thread the daemon starts inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // No VM left paused: first resume what a dead kfreezed left paused, then keep a resumer ready
  // for this one. The ledger outlives the daemon (declared first), so an orderly shutdown has
  // released everything before the resumer sees end of file.
  std::string state_dir = absl::GetFlag(FLAGS_state_dir);
  if (state_dir.empty()) state_dir = DefaultPauseStateDir(options.config.archive().dir());
  auto markers = std::make_unique<PauseMarkers>(state_dir);
  spdlog::info("pause markers in {}", state_dir);
  ReconcilePauseMarkers(*markers, kReconcileConnectBudget);
  absl::StatusOr<std::unique_ptr<ResumerProcess>> resumer =
      ResumerProcess::Start(ResumerProcess::SelfCommand(state_dir));
  if (!resumer.ok()) {
    spdlog::error("no resumer: a VM paused when kfreezed dies stays paused until it restarts: {}",
                  resumer.status().ToString());
  }
  auto ledger = std::make_shared<PauseLedger>(std::move(markers),
                                              resumer.ok() ? std::move(*resumer) : nullptr);
  options.control_factory = TrackPauses(QmpControlFactory(), ledger);

  absl::StatusOr<std::unique_ptr<Daemon>> daemon = Daemon::Start(std::move(options));
  if (!daemon.ok()) return Fail(std::string(daemon.status().message()));
  std::unique_ptr<kfreeze::server::fleet::FleetLink> fleet;
  if (!nats_config.servers().empty()) {
    kfreeze::server::fleet::FleetDeps deps{&(*daemon)->api(), &(*daemon)->archive(),
                                           &(*daemon)->bus(), &(*daemon)->metrics().registry()};
    absl::StatusOr<std::unique_ptr<kfreeze::server::fleet::FleetLink>> link =
        kfreeze::server::fleet::FleetLink::Start(nats_config, deps);
    if (!link.ok()) {
      (*daemon)->Shutdown();
      return Fail(std::string(link.status().message()));
    }
    fleet = std::move(*link);
  }
  std::unique_ptr<kfreeze::server::http::FleetAccess> fleet_access;
  if (fleet) {
    fleet_access = std::make_unique<kfreeze::server::http::FleetAccess>();
    fleet_access->websocket_url = nats_config.websocket_url();
    fleet_access->host = fleet->options().host;
    fleet_access->stream = fleet->options().stream.name;
    fleet_access->bucket = fleet->options().bucket.name;
    fleet_access->fetch = [link = fleet.get()](const std::string& host, const std::string& id) {
      return link->FetchDump(host, id);
    };
  }
  std::vector<std::unique_ptr<kfreeze::server::http::HttpFrontend>> http_frontends;
  for (const std::string& listen : http_listens) {
    kfreeze::server::http::HttpDeps deps{&(*daemon)->api(), &(*daemon)->metrics(),
                                         &(*daemon)->archive(), &(*daemon)->bus(),
                                         fleet_access.get()};
    absl::StatusOr<std::unique_ptr<kfreeze::server::http::HttpFrontend>> frontend =
        kfreeze::server::http::HttpFrontend::Start(listen, *socket_mode, deps, http_tls);
    if (!frontend.ok()) {
      if (fleet) fleet->Stop();
      (*daemon)->Shutdown();
      return Fail(std::string(frontend.status().message()));
    }
    http_frontends.push_back(std::move(*frontend));
  }
  spdlog::info("kfreezed ready");
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading targets");
      (void)(*daemon)->Reload();
      continue;
    }
    spdlog::info("signal {}: stopping", sig);
    break;
  }
  // No new NATS request, then the HTTP side (its event streams end before the bus they read
  // closes), then the daemon: its Shutdown ends walks in flight and resumes their VMs, so the
  // fleet's requests in flight end quickly after it.
  if (fleet) fleet->StopAccepting();
  for (auto& frontend : http_frontends) frontend->Stop();
  (*daemon)->Shutdown();
  if (fleet) fleet->Stop();
  return 0;
}
