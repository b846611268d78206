// The daemon's heart: targets (from config, flags and AttachTarget) with their cached attachment,
// one capture per target at a time (concurrent Freeze calls join the capture in flight), different
// targets in parallel, archive + stream after the VM is resumed, and a shutdown that drains
// captures and resumes every VM the daemon left paused.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/dump/attachment.h"
#include "core/dump/resume_guard.h"
#include "core/dump/vmm_control.h"
#include "kfreeze/v1/config.pb.h"
#include "kfreeze/v1/service.pb.h"
#include "server/daemon/archive.h"
#include "server/daemon/dump_bus.h"

namespace kfreeze::server {

// Opens the control channel of one freeze (QMP in production, fakes in tests).
using ControlFactory = std::function<absl::StatusOr<std::unique_ptr<dump::VmmControl>>(
    const std::string& qmp_socket, std::chrono::milliseconds timeout)>;

// QmpControl::Connect.
ControlFactory QmpControlFactory();

struct FreezeDefaults {
  std::chrono::milliseconds soft_deadline{2000};
  std::chrono::milliseconds hard_grace{1000};
  std::chrono::milliseconds control_timeout{1000};
  std::chrono::milliseconds regs_timeout{1000};
};

FreezeDefaults DefaultsFromConfig(const kfreeze::v1::FreezeDefaults& config);

class TriggerRunner;
class EventSampler;

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
  absl::StatusOr<kfreeze::v1::FreezeResponse> Capture(const kfreeze::v1::FreezeRequest& request,
                                                      kfreeze::v1::Trigger trigger);
  // Archives and publishes an envelope built outside Freeze (dual reports); sets its dump_id.
  absl::StatusOr<kfreeze::v1::DumpSummary> Publish(kfreeze::v1::DumpEnvelope& envelope);
  absl::StatusOr<kfreeze::v1::Target> Resume(const std::string& name);

  // Callers waiting on the capture in flight on `name` (0 when none runs).
  int JoinersInFlight(const std::string& name) const;
  // Blocks until the target's background attach finished (tests, CLI-less startup ordering).
  void WaitForAttach(const std::string& name);
  // The attachment of a target (attaching now if needed); used by the trigger runners.
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> Attachment(const std::string& name);
  // The cached attachment without revalidation or attach work (null when none).
  std::shared_ptr<dump::KernelAttachment> CachedAttachment(const std::string& name) const;

  // New Freeze calls fail with UNAVAILABLE; VMs paused by walks in progress are resumed at once
  // and the walks stop at their next deadline check; returns once every capture finished and
  // every VM the daemon paused was resumed.
  void Shutdown();
  bool shutting_down() const { return shutting_down_.load(); }
  // Background attach threads not yet joined (tests: they must not pile up over attach cycles).
  size_t AttachThreadsHeld() const;

 private:
  struct Target;
  struct InFlight;

  std::shared_ptr<Target> Find(const std::string& name) const;
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> EnsureAttached(Target& target);
  // `prep_us`: attach check + control connect, before the pause (for the log line).
  absl::StatusOr<kfreeze::v1::FreezeResponse> CaptureOnce(Target& target,
                                                          const kfreeze::v1::FreezeRequest& request,
                                                          kfreeze::v1::Trigger trigger,
                                                          uint64_t* prep_us);
  absl::StatusOr<kfreeze::v1::FreezeResponse> Run(const kfreeze::v1::FreezeRequest& request,
                                                  kfreeze::v1::Trigger trigger, bool publish);
  void StartBackgroundAttach(std::shared_ptr<Target> target);
  // Registers a Freeze/Capture unless shutdown began, atomically with Shutdown's own check, so no
  // capture can start after Shutdown stopped waiting for them.
  bool BeginCapture();
  void EndCapture();
  void ResumeIfPaused(Target& target);
  // Copies the target's event-counter window into the envelope's report.
  void AttachTimeline(const Target& target, kfreeze::v1::DumpEnvelope& envelope);
  // Stops the target's trigger runner and event sampler (joins their threads).
  void StopTriggers(Target& target);
  kfreeze::v1::Target Describe(const Target& target) const;

  const dump::Attacher attacher_;
  const ControlFactory control_factory_;
  DumpArchive* const archive_;
  DumpBus* const bus_;
  const FreezeDefaults defaults_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> cancel_walks_{false};
  // Freezes holding a VM paused right now; Shutdown() resumes them at once.
  dump::ActivePauses active_pauses_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Target>> targets_ ABSL_GUARDED_BY(mu_);
  // Background attaches; a finished one is joined when the next one starts, so the list holds only
  // attaches still running (plus finished ones not yet reaped), not every attach since startup.
  struct AttachThread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };
  std::vector<AttachThread> attach_threads_ ABSL_GUARDED_BY(mu_);
  int captures_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfreeze::server
