// The daemon's heart: targets (from config, flags and AttachTarget) with their cached attachment,
// one capture per target at a time (concurrent Freeze calls join the capture in flight), different
// targets in parallel, archive + stream after the VM is resumed, and a shutdown that drains
// captures and resumes every VM the daemon left paused. Each of those jobs lives in a file of its
// own; this class wires them together.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dump/attachment.h"
#include "core/dump/resume_guard.h"
#include "kfreeze/v1/config.pb.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/attach_threads.h"
#include "server/daemon/capture_gate.h"
#include "server/daemon/control_factory.h"
#include "server/daemon/dump_bus.h"
#include "server/daemon/dump_publisher.h"
#include "server/daemon/freeze_options.h"
#include "server/daemon/freeze_target.h"
#include "server/daemon/target_registry.h"

namespace kfreeze::server {

class FreezeCoordinator {
 public:
  FreezeCoordinator(dump::Attacher attacher, ControlFactory control_factory, DumpArchive* archive,
                    DumpBus* bus, FreezeDefaults defaults);
  ~FreezeCoordinator();

  // Validates and registers a target, then attaches it in the background and starts its
  // auto-trigger runner when the config enables one. ALREADY_EXISTS unless `replace`. `source` is
  // "config", "flag" or "rpc".
  absl::StatusOr<kfreeze::v1::Target> AddTarget(const kfreeze::v1::TargetConfig& config,
                                                const std::string& source, bool replace);
  // Waits for a capture in flight on it, resumes it if the daemon left it paused, forgets it.
  absl::Status RemoveTarget(const std::string& name);
  absl::StatusOr<kfreeze::v1::Target> GetTarget(const std::string& name) const;
  std::vector<kfreeze::v1::Target> ListTargets() const;
  // SIGHUP: targets from the config file become exactly `targets` (others keep theirs).
  void ReloadConfigTargets(const std::vector<kfreeze::v1::TargetConfig>& targets);

  absl::StatusOr<kfreeze::v1::FreezeResponse> Freeze(const kfreeze::v1::FreezeRequest& request,
                                                     kfreeze::v1::Trigger trigger);
  // Freeze without archiving or publishing (the auto-triggers assemble dual reports first).
  // `pause_held`: the VM is paused by kfreeze already (the late trigger's watch hit).
  absl::StatusOr<kfreeze::v1::FreezeResponse> Capture(const kfreeze::v1::FreezeRequest& request,
                                                      kfreeze::v1::Trigger trigger,
                                                      bool pause_held = false);
  // Archives and publishes an envelope built outside Freeze (dual reports); sets its dump_id.
  absl::StatusOr<kfreeze::v1::DumpSummary> Publish(kfreeze::v1::DumpEnvelope& envelope);
  absl::StatusOr<kfreeze::v1::Target> Resume(const std::string& name);

  // Callers waiting on the capture in flight on `name` (0 when none runs).
  int JoinersInFlight(const std::string& name) const;
  // Blocks until the target's background attach finished (tests, CLI-less startup ordering).
  void WaitForAttach(const std::string& name);

  // New Freeze calls fail with UNAVAILABLE; VMs paused by walks in progress are resumed at once
  // and the walks stop at their next deadline check; returns once every capture finished and
  // every VM the daemon paused was resumed.
  void Shutdown();
  // Background attach threads not yet joined (tests: they must not pile up over attach cycles).
  size_t AttachThreadsHeld() const { return attach_threads_.Held(); }

 private:
  absl::StatusOr<kfreeze::v1::FreezeResponse> Run(const kfreeze::v1::FreezeRequest& request,
                                                  kfreeze::v1::Trigger trigger, bool publish,
                                                  bool pause_held = false);
  void StartBackgroundAttach(const std::shared_ptr<FreezeTarget>& target);
  // The event sampler and auto-trigger runner the target's config asks for.
  void StartRunners(FreezeTarget& target);

  const dump::Attacher attacher_;
  const ControlFactory control_factory_;
  DumpPublisher publisher_;
  const FreezeDefaults defaults_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> cancel_walks_{false};
  // Freezes holding a VM paused right now; Shutdown() resumes them at once.
  dump::ActivePauses active_pauses_;
  CaptureGate captures_;
  AttachThreads attach_threads_;
  // Last, so destroyed first: a runner a racing AddTarget started after Shutdown stopped them all
  // is stopped here, while the members it calls are still alive.
  TargetRegistry targets_;
};

}  // namespace kfreeze::server
