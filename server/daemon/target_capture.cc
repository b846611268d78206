#include "server/daemon/target_capture.h"

#include <memory>
#include <utility>

#include "core/base/reasons.h"
#include "core/base/stopwatch.h"
#include "server/daemon/target_attach.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FreezeResponse;

// Copies the target's event-counter window into the envelope's report.
void AttachTimeline(const FreezeTarget& target, DumpEnvelope& envelope) {
  kfreeze::v1::FailureDumpReport* report = nullptr;
  if (envelope.has_single()) report = envelope.mutable_single();
  if (envelope.has_degraded() && envelope.degraded().has_partial()) {
    report = envelope.mutable_degraded()->mutable_partial();
  }
  if (report == nullptr) return;
  if (target.timeline) {
    target.timeline->CopyInto(*report);
  } else if (report->event_counter_timeline_size() == 0) {
    report->set_event_counter_timeline_unavailable(std::string(kReasonEventSamplingOff));
  }
}

}  // namespace

absl::StatusOr<FreezeResponse> CaptureTarget(const CaptureEnvironment& env, FreezeTarget& target,
                                             const kfreeze::v1::FreezeRequest& request,
                                             kfreeze::v1::Trigger trigger, uint64_t* prep_us,
                                             bool pause_held) {
  ElapsedTimer prep;
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attachment =
      EnsureAttached(*env.attacher, target);
  if (!attachment.ok()) return attachment.status();

  dump::FreezeOptions options = ResolveFreezeOptions(env.defaults, target.config, request);
  options.cancel = env.cancel;
  options.active_pauses = env.active_pauses;
  options.vcpu_perf = &target.vcpu_perf;
  std::shared_ptr<dump::KernelAttachment> kernel = *attachment;
  dump::UseAttachment(kernel, options);

  std::unique_ptr<dump::VmmControl> control;
  {
    absl::MutexLock lock(&target.mu);
    control = std::move(target.paused_control);  // a VM we left paused: reuse its connection
    target.state = kfreeze::v1::TARGET_STATE_FREEZING;
  }
  options.pause_held = control != nullptr || pause_held;
  if (!control && !target.config.qmp_socket().empty()) {
    control = OpenControlOrUnreachable(*env.control_factory, target.config.qmp_socket(),
                                       env.defaults.control_timeout);
  }

  *prep_us = prep.Micros();
  absl::StatusOr<dump::FreezeOutcome> outcome =
      dump::RunFreeze(control.get(), kernel->phases(), options);
  {
    absl::MutexLock lock(&target.mu);
    target.state = kfreeze::v1::TARGET_STATE_ATTACHED;
    if (outcome.ok() && outcome->left_paused) {
      target.paused_control = std::move(control);
      target.state = kfreeze::v1::TARGET_STATE_PAUSED;
    }
    if (outcome.ok()) ++target.dumps_taken;
  }
  if (!outcome.ok()) return outcome.status();
  if (outcome->vm_already_paused) {
    spdlog::info(
        "target {}: the VM was not running when the freeze began; walked as found, "
        "neither paused nor resumed by kfreeze",
        target.config.name());
  }
  if (!outcome->resume_status.ok()) {
    spdlog::error("target {}: resume failed, the VM may still be paused: {}", target.config.name(),
                  outcome->resume_status.ToString());
  }

  FreezeResponse response;
  DumpEnvelope& e = *response.mutable_envelope();
  e = std::move(outcome->envelope);
  e.set_target(target.config.name());
  e.set_trigger(trigger);
  e.set_kernel_release(kernel->kernel_release());
  for (const auto& [k, v] : target.config.labels()) (*e.mutable_labels())[k] = v;
  for (const auto& [k, v] : request.labels()) (*e.mutable_labels())[k] = v;
  AttachTimeline(target, e);
  *response.mutable_timings() = e.timings();
  return response;
}

}  // namespace kfreeze::server
