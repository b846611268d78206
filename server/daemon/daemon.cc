#include "server/daemon/daemon.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/resource_quota.h"
#include "grpcpp/server_builder.h"
#include "server/daemon/config.h"
#include "server/daemon/limits.h"
#include "server/daemon/listeners.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr char kServiceName[] = "kfreeze.v1.FreezeService";
// How often retention (age) is applied between stores.
constexpr absl::Duration kSweepInterval = absl::Seconds(60);
// Streams and unary calls still running this long after Shutdown() are cancelled.
constexpr auto kServerDrain = std::chrono::seconds(3);
// gRPC threads beyond the long-lived calls (watch streams, freezes): short reads, health, polling.
constexpr int kSpareThreads = 32;
// Requests are small (a Freeze, a filter); a bound keeps a hostile caller from buffering more.
constexpr uint32_t kMaxReceiveMessageBytes = 16 << 20;

RetentionPolicy RetentionFrom(const kfreeze::v1::ArchiveConfig& a) {
  RetentionPolicy p;
  p.max_count = a.max_count();
  p.max_bytes = a.max_bytes();
  p.max_age = absl::Seconds(static_cast<int64_t>(a.max_age_seconds()));
  p.max_count_per_target =
      a.max_count_per_target() ? a.max_count_per_target() : kDefaultArchiveMaxCountPerTarget;
  p.max_bytes_per_target = a.max_bytes_per_target();
  return p;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Daemon>> Daemon::Start(DaemonOptions options) {
  std::unique_ptr<Daemon> d(new Daemon());
  if (absl::Status s = d->Init(std::move(options)); !s.ok()) {
    d->Shutdown();
    return s;
  }
  return d;
}

absl::Status Daemon::Init(DaemonOptions options) {
  options_ = std::move(options);
  const kfreeze::v1::Config& config = options_.config;
  if (absl::Status s = ValidateConfig(config); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<DumpArchive>> archive =
      DumpArchive::Open(config.archive().dir(), RetentionFrom(config.archive()));
  if (!archive.ok()) return archive.status();
  archive_ = std::move(*archive);
  metrics_ = std::make_unique<DaemonMetrics>();
  bus_ = std::make_unique<DumpBus>(
      config.watch_queue_depth(),
      [metrics = metrics_.get()](const kfreeze::v1::DumpSummary& summary,
                                 const kfreeze::v1::DumpEnvelope& envelope) {
        metrics->OnDump(summary, envelope);
      });
  dump::Attacher timed_attacher =
      [attacher = options_.attacher, metrics = metrics_.get()](
          const dump::AttachSpec& spec) -> absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> {
    const absl::Time begin = absl::Now();
    absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attached = attacher(spec);
    metrics->OnAttach(spec.name, absl::Now() - begin, attached.ok());
    return attached;
  };
  coordinator_ =
      std::make_unique<FreezeCoordinator>(timed_attacher, options_.control_factory, archive_.get(),
                                          bus_.get(), DefaultsFromConfig(config.freeze()));
  authorizer_ = std::make_unique<Authorizer>(config.roles());
  ServiceGuards guards;
  guards.authorizer = authorizer_.get();
  guards.unix_peers = &unix_peers_;
  guards.limits = LimitsFromConfig(config.limits());
  guards.rpc_attach = config.rpc_attach();
  guards.max_receive_message_bytes = kMaxReceiveMessageBytes;
  guards.metrics = metrics_.get();
  const Limits limits = guards.limits;
  api_ = std::make_unique<FreezeApi>(coordinator_.get(), archive_.get(), bus_.get(),
                                     std::move(guards));
  service_ = std::make_unique<FreezeServiceImpl>(api_.get(), &unix_peers_);

  // Linked in explicitly: the plugin registers itself from a static initialiser the linker drops.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::EnableDefaultHealthCheckService(true);
  // libgrpc++ serves grpc.health.v1 without its descriptor; touching our compiled copy keeps it
  // linked so reflection clients can describe the health service.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  // v1 beside the plugin's v1alpha: current clients (buf curl) ask v1 first.
  reflection_v1_ = std::make_unique<ReflectionV1Service>(std::vector<std::string>{
      kServiceName, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
      grpc::reflection::v1::ServerReflection::service_full_name()});
  builder.RegisterService(reflection_v1_.get());
  prefixed_reflection_ = std::make_unique<PrefixedReflection>(reflection_v1_.get());
  builder.RegisterCallbackGenericService(prefixed_reflection_.get());
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  // Bounded threads: calls beyond them get RESOURCE_EXHAUSTED from gRPC instead of a new thread.
  grpc::ResourceQuota quota("kfreezed");
  quota.SetMaxThreads(static_cast<int>(limits.max_watchers + limits.max_concurrent_freezes) +
                      kSpareThreads);
  builder.SetResourceQuota(quota);
  absl::StatusOr<unsigned> mode = ParseSocketMode(config.unix_socket_mode());
  if (!mode.ok()) return mode.status();
  // In listen order; `unix` points into unix_listeners_, `port` is filled for TCP.
  struct Bound {
    ListenAddress address;
    UnixPeerListener* unix = nullptr;
    std::unique_ptr<int> port;
  };
  std::vector<Bound> bound;
  for (const std::string& listen : config.listen()) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(listen);
    if (!a.ok()) return a.status();
    if (a->is_unix) {
      // Accepted by kfreezed itself, to learn each peer's uid/gid (peer_identity.h).
      if (absl::Status s = PrepareUnixSocket(a->path); !s.ok()) return s;
      absl::StatusOr<std::unique_ptr<UnixPeerListener>> l =
          UnixPeerListener::Bind(a->path, *mode, &unix_peers_);
      if (!l.ok()) return l.status();
      unix_listeners_.push_back(std::move(*l));
      bound.push_back({std::move(*a), unix_listeners_.back().get(), nullptr});
      continue;
    }
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = CredentialsFor(*a, config);
    if (!creds.ok()) return creds.status();
    auto port = std::make_unique<int>(0);
    builder.AddListeningPort(a->grpc_uri, *creds, port.get());
    bound.push_back({std::move(*a), nullptr, std::move(port)});
  }
  server_ = builder.BuildAndStart();
  if (!server_) return absl::UnavailableError("gRPC server failed to start (listener in use?)");
  for (const Bound& b : bound) {
    if (b.unix != nullptr) {
      b.unix->Start(server_.get());
      addresses_.push_back(absl::StrCat("unix:", b.unix->path()));
    } else {
      const ListenAddress& a = b.address;
      if (*b.port == 0) return absl::UnavailableError(absl::StrCat("cannot bind ", a.grpc_uri));
      std::string host =
          a.host.find(':') != std::string::npos ? absl::StrCat("[", a.host, "]") : a.host;
      addresses_.push_back(absl::StrCat(host, ":", *b.port));
    }
    spdlog::info("listening on {}", addresses_.back());
  }
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    health->SetServingStatus(kServiceName, true);
  }

  for (const kfreeze::v1::TargetConfig& t : config.targets()) {
    absl::StatusOr<kfreeze::v1::Target> added = coordinator_->AddTarget(t, "config", false);
    if (!added.ok()) return added.status();
  }
  for (const kfreeze::v1::TargetConfig& t : options_.flag_targets) {
    if (absl::Status s = CheckTargetConfig(t, limits); !s.ok()) return s;
    absl::StatusOr<kfreeze::v1::Target> added = coordinator_->AddTarget(t, "flag", true);
    if (!added.ok()) return added.status();
  }
  sweeper_ = std::thread([this] {
    while (!stop_sweeper_.WaitForNotificationWithTimeout(kSweepInterval)) archive_->Prune();
  });
  return absl::OkStatus();
}

absl::Status Daemon::Reload() {
  if (options_.config_path.empty()) {
    spdlog::info("reload: no config file; nothing to do");
    return absl::OkStatus();
  }
  absl::StatusOr<kfreeze::v1::Config> fresh = LoadConfigFile(options_.config_path);
  if (!fresh.ok()) {
    spdlog::error("reload: {}", fresh.status().ToString());
    return fresh.status();
  }
  ApplyDefaults(*fresh);
  if (absl::Status s = ValidateConfig(*fresh); !s.ok()) {
    spdlog::error("reload: {}", s.ToString());
    return s;
  }
  authorizer_->Update(fresh->roles());
  std::vector<kfreeze::v1::TargetConfig> targets(fresh->targets().begin(), fresh->targets().end());
  coordinator_->ReloadConfigTargets(targets);
  spdlog::info("reload: {} config target(s), {} role grant(s)", targets.size(),
               fresh->roles_size());
  return absl::OkStatus();
}

void Daemon::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  spdlog::info("shutting down: draining freezes, resuming paused VMs, closing streams");
  if (server_) {
    if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
      health->SetServingStatus(false);
    }
  }
  // No new connections while draining (gRPC must not get fds after its shutdown).
  for (const auto& l : unix_listeners_) l->Stop();
  if (coordinator_) coordinator_->Shutdown();
  if (bus_) bus_->Close();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + kServerDrain);
    server_->Wait();
  }
  if (!stop_sweeper_.HasBeenNotified()) stop_sweeper_.Notify();
  if (sweeper_.joinable()) sweeper_.join();
  for (const std::string& l : options_.config.listen()) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(l);
    if (a.ok() && a->is_unix) unlink(a->path.c_str());
  }
  spdlog::info("shutdown complete");
}

Daemon::~Daemon() { Shutdown(); }

}  // namespace kfreeze::server
