#include "server/daemon/daemon.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "server/daemon/config.h"
#include "server/daemon/listeners.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr char kServiceName[] = "kfreeze.v1.FreezeService";
// How often retention (age) is applied between stores.
constexpr absl::Duration kSweepInterval = absl::Seconds(60);
// Streams and unary calls still running this long after Shutdown() are cancelled.
constexpr auto kServerDrain = std::chrono::seconds(3);

RetentionPolicy RetentionFrom(const kfreeze::v1::ArchiveConfig& a) {
  RetentionPolicy p;
  p.max_count = a.max_count();
  p.max_bytes = a.max_bytes();
  p.max_age = absl::Seconds(static_cast<int64_t>(a.max_age_seconds()));
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
  bus_ = std::make_unique<DumpBus>(config.watch_queue_depth());
  coordinator_ = std::make_unique<FreezeCoordinator>(options_.attacher, options_.control_factory,
                                                     archive_.get(), bus_.get(),
                                                     DefaultsFromConfig(config.freeze()));
  service_ = std::make_unique<FreezeServiceImpl>(coordinator_.get(), archive_.get(), bus_.get());

  // Linked in explicitly: the plugin registers itself from a static initialiser the linker drops.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::EnableDefaultHealthCheckService(true);
  // libgrpc++ serves grpc.health.v1 without its descriptor; touching our compiled copy keeps it
  // linked so reflection clients can describe the health service.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::ServerBuilder builder;
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(16 << 20);
  absl::StatusOr<unsigned> mode = ParseSocketMode(config.unix_socket_mode());
  if (!mode.ok()) return mode.status();
  std::vector<std::pair<ListenAddress, std::unique_ptr<int>>> bound;
  for (const std::string& listen : config.listen()) {
    absl::StatusOr<ListenAddress> a = ParseListenAddress(listen);
    if (!a.ok()) return a.status();
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = CredentialsFor(*a, config);
    if (!creds.ok()) return creds.status();
    if (a->is_unix) {
      if (absl::Status s = PrepareUnixSocket(a->path); !s.ok()) return s;
    }
    auto port = std::make_unique<int>(0);
    builder.AddListeningPort(a->grpc_uri, *creds, port.get());
    bound.emplace_back(std::move(*a), std::move(port));
  }
  // The socket file is created by bind(): the umask makes it never more open than `mode`.
  mode_t old_umask = umask(static_cast<mode_t>(~*mode & 0777));
  server_ = builder.BuildAndStart();
  umask(old_umask);
  if (!server_) return absl::UnavailableError("gRPC server failed to start (listener in use?)");
  for (const auto& [a, port] : bound) {
    if (a.is_unix) {
      if (chmod(a.path.c_str(), *mode) != 0) {
        return absl::PermissionDeniedError(absl::StrCat("chmod ", a.path));
      }
      addresses_.push_back(a.grpc_uri);
    } else {
      if (*port == 0) return absl::UnavailableError(absl::StrCat("cannot bind ", a.grpc_uri));
      std::string host =
          a.host.find(':') != std::string::npos ? absl::StrCat("[", a.host, "]") : a.host;
      addresses_.push_back(absl::StrCat(host, ":", *port));
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
  std::vector<kfreeze::v1::TargetConfig> targets(fresh->targets().begin(), fresh->targets().end());
  coordinator_->ReloadConfigTargets(targets);
  spdlog::info("reload: {} config target(s)", targets.size());
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
