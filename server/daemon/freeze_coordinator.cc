#include "server/daemon/freeze_coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/stopwatch.h"
#include "server/daemon/capture_coalescing.h"
#include "server/daemon/config_reload.h"
#include "server/daemon/dump_summary.h"
#include "server/daemon/event_sampler.h"
#include "server/daemon/paused_custody.h"
#include "server/daemon/target_attach.h"
#include "server/daemon/target_capture.h"
#include "server/daemon/trigger_runner.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FreezeRequest;
using kfreeze::v1::FreezeResponse;

namespace {

constexpr uint32_t kDefaultEventSampleMs = 1000;
constexpr uint32_t kDefaultTimelineSamples = 300;  // 5 minutes at the default interval

absl::Status NoTarget(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("no target '", name, "'"));
}

// "pause=0.5ms regs=14.2ms maps=3.1ms ..." for the per-freeze log line.
std::string TimingLine(const DumpEnvelope& e) {
  std::vector<std::string> parts;
  for (const auto& t : e.timings()) {
    parts.push_back(t.skipped() ? absl::StrCat(t.phase(), "=skipped")
                                : absl::StrCat(t.phase(), "=", t.duration_us() / 1000, ".",
                                               (t.duration_us() % 1000) / 100, "ms"));
  }
  return absl::StrJoin(parts, " ");
}

}  // namespace

FreezeCoordinator::FreezeCoordinator(dump::Attacher attacher, ControlFactory control_factory,
                                     DumpArchive* archive, DumpBus* bus, FreezeDefaults defaults)
    : attacher_(std::move(attacher)),
      control_factory_(std::move(control_factory)),
      publisher_(archive, bus),
      defaults_(defaults) {}

FreezeCoordinator::~FreezeCoordinator() { Shutdown(); }

absl::StatusOr<kfreeze::v1::Target> FreezeCoordinator::AddTarget(
    const kfreeze::v1::TargetConfig& config, const std::string& source, bool replace) {
  if (!IsSafeName(config.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("target name '", config.name(), "' must match [A-Za-z0-9._-]{1,64}"));
  }
  if (config.ram_path().empty() && config.vmm_pid() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", config.name(), " needs ram_path or vmm_pid"));
  }
  auto target = std::make_shared<FreezeTarget>(config, source);
  if (!config.event_sampling_off()) {
    target->timeline = std::make_shared<dump::EventTimeline>(config.event_timeline_samples()
                                                                 ? config.event_timeline_samples()
                                                                 : kDefaultTimelineSamples);
  }
  absl::StatusOr<std::shared_ptr<FreezeTarget>> old = targets_.Add(target, replace);
  if (!old.ok()) return old.status();
  if (*old) {
    StopRunners(**old);
    ResumeIfPaused(**old, defaults_.control_timeout);
  }
  spdlog::info("target {} added ({}): ram={} pid={} qmp={}", config.name(), source,
               config.ram_path(), config.vmm_pid(), config.qmp_socket());
  StartBackgroundAttach(target);
  StartRunners(*target);
  return DescribeTarget(*target);
}

void FreezeCoordinator::StartBackgroundAttach(const std::shared_ptr<FreezeTarget>& target) {
  bool started = attach_threads_.Start([attacher = attacher_, target] {
    (void)EnsureAttached(attacher, *target);
    target->first_attach_done.Notify();
  });
  if (!started) target->first_attach_done.Notify();  // shutting down: nobody attaches it
}

void FreezeCoordinator::StartRunners(FreezeTarget& target) {
  // The runners are owned by `target`, so the raw pointer outlives them.
  FreezeTarget* const t = &target;
  auto attachments = [attacher = attacher_, t] {
    return TargetAttachments{[attacher, t] { return EnsureAttached(attacher, *t); },
                             [t] { return CachedAttachment(*t); }};
  };
  const kfreeze::v1::TargetConfig& config = target.config;
  if (target.timeline) {
    auto sampler = std::make_unique<EventSampler>(
        attachments(), config.name(),
        std::chrono::milliseconds(config.event_sample_ms() ? config.event_sample_ms()
                                                           : kDefaultEventSampleMs),
        target.timeline);
    absl::MutexLock lock(&target.mu);
    target.sampler = std::move(sampler);
  }
  if (config.triggers().late_enabled() || config.triggers().early_enabled()) {
    TriggerActions actions{[this](const FreezeRequest& request, kfreeze::v1::Trigger trigger) {
                             return Capture(request, trigger);
                           },
                           [this](DumpEnvelope& envelope) { return Publish(envelope); },
                           [this](const FreezeRequest& request, kfreeze::v1::Trigger trigger) {
                             return Capture(request, trigger, /*pause_held=*/true);
                           }};
    auto runner = std::make_unique<TriggerRunner>(attachments(), std::move(actions), config);
    absl::MutexLock lock(&target.mu);
    target.triggers = std::move(runner);
  }
}

int FreezeCoordinator::JoinersInFlight(const std::string& name) const {
  std::shared_ptr<FreezeTarget> t = targets_.Find(name);
  return t ? server::JoinersInFlight(*t) : 0;
}

void FreezeCoordinator::WaitForAttach(const std::string& name) {
  if (std::shared_ptr<FreezeTarget> t = targets_.Find(name)) {
    t->first_attach_done.WaitForNotification();
  }
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Freeze(const FreezeRequest& request,
                                                         kfreeze::v1::Trigger trigger) {
  return Run(request, trigger, /*publish=*/true);
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Capture(const FreezeRequest& request,
                                                          kfreeze::v1::Trigger trigger,
                                                          bool pause_held) {
  return Run(request, trigger, /*publish=*/false, pause_held);
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Run(const FreezeRequest& request,
                                                      kfreeze::v1::Trigger trigger, bool publish,
                                                      bool pause_held) {
  if (!captures_.Enter()) return absl::UnavailableError("daemon is shutting down");
  absl::Cleanup leave = [this] { captures_.Leave(); };
  std::shared_ptr<FreezeTarget> target = targets_.Find(request.target());
  if (!target) return NoTarget(request.target());

  const CaptureEnvironment env{&attacher_, &control_factory_, defaults_, &cancel_walks_,
                               &active_pauses_};
  uint64_t prep_us = 0;
  uint64_t archive_us = 0;
  uint64_t stored_bytes = 0;  // the archive's serialized size (sizing a 24 MB report again costs)
  // Publishing is part of the leader's work: joiners get the dump_id too.
  CoalescedCapture capture = CaptureOrJoin(*target, [&]() -> absl::StatusOr<FreezeResponse> {
    absl::StatusOr<FreezeResponse> result =
        CaptureTarget(env, *target, request, trigger, &prep_us, pause_held);
    if (!result.ok() || !publish) return result;
    ElapsedTimer archive;
    absl::StatusOr<kfreeze::v1::DumpSummary> stored = Publish(*result->mutable_envelope());
    archive_us = archive.Micros();
    if (stored.ok()) {
      result->set_dump_id(stored->dump_id());
      stored_bytes = stored->size_bytes();
      absl::MutexLock lock(&target->mu);
      target->last_dump_id = stored->dump_id();
    } else {
      spdlog::error("target {}: dump not archived: {}", target->config.name(),
                    stored.status().ToString());
    }
    return result;
  });
  if (!capture.led) return std::move(capture.result);
  absl::StatusOr<FreezeResponse>& result = capture.result;
  if (result.ok()) {
    spdlog::info(
        "freeze target={} id={} trigger={} {} live={} joiners={} {} prep={}.{}ms "
        "archive={}.{}ms bytes={}",
        target->config.name(), result->dump_id(), kfreeze::v1::Trigger_Name(trigger),
        SchemaName(result->envelope()), result->envelope().live(), capture.joiners,
        TimingLine(result->envelope()), prep_us / 1000, (prep_us % 1000) / 100, archive_us / 1000,
        (archive_us % 1000) / 100, stored_bytes);
  } else {
    spdlog::warn("freeze target={} failed: {}", target->config.name(), result.status().ToString());
  }
  return std::move(result);
}

absl::StatusOr<kfreeze::v1::DumpSummary> FreezeCoordinator::Publish(DumpEnvelope& envelope) {
  return publisher_.Publish(envelope);
}

absl::StatusOr<kfreeze::v1::Target> FreezeCoordinator::Resume(const std::string& name) {
  std::shared_ptr<FreezeTarget> target = targets_.Find(name);
  if (!target) return NoTarget(name);
  if (absl::Status s = ResumeHeldPause(*target, defaults_.control_timeout); !s.ok()) return s;
  return DescribeTarget(*target);
}

absl::Status FreezeCoordinator::RemoveTarget(const std::string& name) {
  std::shared_ptr<FreezeTarget> target = targets_.Remove(name);
  if (!target) return NoTarget(name);
  StopRunners(*target);
  WaitForCaptureInFlight(*target);
  ResumeIfPaused(*target, defaults_.control_timeout);
  spdlog::info("target {} detached", name);
  return absl::OkStatus();
}

absl::StatusOr<kfreeze::v1::Target> FreezeCoordinator::GetTarget(const std::string& name) const {
  std::shared_ptr<FreezeTarget> t = targets_.Find(name);
  if (!t) return NoTarget(name);
  return DescribeTarget(*t);
}

std::vector<kfreeze::v1::Target> FreezeCoordinator::ListTargets() const {
  std::vector<kfreeze::v1::Target> out;
  for (const auto& t : targets_.All()) out.push_back(DescribeTarget(*t));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return out;
}

void FreezeCoordinator::ReloadConfigTargets(const std::vector<kfreeze::v1::TargetConfig>& targets) {
  ConfigReloadPlan plan = PlanConfigReload(targets_.All(), targets);
  for (const std::string& name : plan.remove) (void)RemoveTarget(name);
  for (const auto& kept : plan.ignored) {
    spdlog::warn("reload: target {} comes from {}; config entry ignored", kept->config.name(),
                 kept->source);
  }
  for (const auto& config : plan.add) {
    absl::StatusOr<kfreeze::v1::Target> added = AddTarget(config, "config", /*replace=*/true);
    if (!added.ok())
      spdlog::error("reload: target {}: {}", config.name(), added.status().ToString());
  }
}

void FreezeCoordinator::Shutdown() {
  // Second call (destructor after an explicit Shutdown): threads are already joined.
  if (shutting_down_.exchange(true)) return;
  targets_.Close();
  captures_.Close();
  cancel_walks_ = true;
  // VMs paused mid-walk run again now, not when each walk reaches its hard deadline.
  active_pauses_.ResumeAll();
  for (const auto& t : targets_.All()) StopRunners(*t);
  captures_.WaitIdle();
  for (const auto& t : targets_.All()) ResumeIfPaused(*t, defaults_.control_timeout);
  attach_threads_.CloseAndJoin();
}

}  // namespace kfreeze::server
