// kfreezed assembled: archive, dump bus, coordinator, gRPC server (FreezeService, reflection,
// health) on every configured listener, the retention sweep and the auto-trigger runners.
// main() adds flags and signals; tests run it in-process on a private unix socket.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "core/dump/attachment.h"
#include "grpcpp/server.h"
#include "kfreeze/v1/config.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/authz.h"
#include "server/daemon/dump_bus.h"
#include "server/daemon/freeze_coordinator.h"
#include "server/daemon/freeze_service.h"
#include "server/daemon/metrics.h"
#include "server/daemon/peer_identity.h"
#include "server/daemon/prefixed_reflection.h"
#include "server/daemon/reflection_v1.h"
#include "server/daemon/unix_peer_listener.h"

namespace kfreeze::server {

struct DaemonOptions {
  kfreeze::v1::Config config;  // defaults applied, flags merged
  // Targets given as flags (source "flag"); config.targets() are source "config".
  std::vector<kfreeze::v1::TargetConfig> flag_targets;
  // Re-read on Reload(); empty = nothing to reload.
  std::string config_path;
  dump::Attacher attacher;
  ControlFactory control_factory;
};

class Daemon {
 public:
  static absl::StatusOr<std::unique_ptr<Daemon>> Start(DaemonOptions options);
  ~Daemon();

  // Drains captures, resumes paused VMs, ends streams, stops the server. Idempotent.
  void Shutdown();
  // SIGHUP: re-reads the config file's targets and roles (listeners, limits and rpc_attach need
  // a restart).
  absl::Status Reload();

  FreezeCoordinator& coordinator() { return *coordinator_; }
  DumpArchive& archive() { return *archive_; }
  DumpBus& bus() { return *bus_; }
  FreezeApi& api() { return *api_; }
  DaemonMetrics& metrics() { return *metrics_; }
  const UnixPeerTable& unix_peers() const { return unix_peers_; }
  // The listen URIs as bound (TCP port 0 resolved).
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  Daemon() = default;
  absl::Status Init(DaemonOptions options);

  DaemonOptions options_;
  // First: the bus and the attacher report into it until everything else is gone.
  std::unique_ptr<DaemonMetrics> metrics_;
  std::unique_ptr<DumpArchive> archive_;
  std::unique_ptr<DumpBus> bus_;
  std::unique_ptr<FreezeCoordinator> coordinator_;
  std::unique_ptr<Authorizer> authorizer_;
  UnixPeerTable unix_peers_;
  std::unique_ptr<FreezeApi> api_;
  std::unique_ptr<FreezeServiceImpl> service_;
  std::unique_ptr<ReflectionV1Service> reflection_v1_;
  std::unique_ptr<PrefixedReflection> prefixed_reflection_;
  std::vector<std::unique_ptr<UnixPeerListener>> unix_listeners_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> addresses_;
  absl::Notification stop_sweeper_;
  std::thread sweeper_;
  bool shut_down_ = false;
};

}  // namespace kfreeze::server
