#include "server/daemon/freeze_coordinator.h"

#include <algorithm>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/dump/freeze_session.h"
#include "core/dump/qmp_control.h"
#include "server/daemon/config.h"
#include "server/daemon/dump_summary.h"
#include "server/daemon/event_sampler.h"
#include "server/daemon/trigger_runner.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {

using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FreezeRequest;
using kfreeze::v1::FreezeResponse;
using kfreeze::v1::TargetState;

// One capture in progress on one target; joiners wait on `done` and share `result`.
struct FreezeCoordinator::InFlight {
  absl::Notification done;
  absl::StatusOr<FreezeResponse> result = absl::UnknownError("capture did not finish");
  std::atomic<int> joiners{0};
};

struct FreezeCoordinator::Target {
  Target(kfreeze::v1::TargetConfig c, std::string s) : config(std::move(c)), source(std::move(s)) {}
  const kfreeze::v1::TargetConfig config;
  const std::string source;

  // Serialises attach work; state below is read under `mu` without waiting for an attach.
  absl::Mutex attach_mu;
  mutable absl::Mutex mu;
  TargetState state ABSL_GUARDED_BY(mu) = kfreeze::v1::TARGET_STATE_ATTACHING;
  std::string last_error ABSL_GUARDED_BY(mu);
  std::string kernel_release ABSL_GUARDED_BY(mu);
  google::protobuf::Timestamp attached_at ABSL_GUARDED_BY(mu);
  uint64_t attach_us ABSL_GUARDED_BY(mu) = 0;
  std::shared_ptr<dump::KernelAttachment> attachment ABSL_GUARDED_BY(mu);
  std::shared_ptr<InFlight> inflight ABSL_GUARDED_BY(mu);
  // The QMP connection that left the VM paused (keep_paused); reused by the next freeze.
  std::unique_ptr<dump::VmmControl> paused_control ABSL_GUARDED_BY(mu);
  std::string last_dump_id ABSL_GUARDED_BY(mu);
  uint64_t dumps_taken ABSL_GUARDED_BY(mu) = 0;
  absl::Notification first_attach_done;
  // Auto-triggers of this target (null when none is enabled); owned here so a detach stops them.
  std::unique_ptr<TriggerRunner> triggers ABSL_GUARDED_BY(mu);
  // SCX_EV_* samples taken while the guest runs (null when sampling is off) and their sampler.
  std::shared_ptr<dump::EventTimeline> timeline;
  std::unique_ptr<EventSampler> sampler ABSL_GUARDED_BY(mu);
};

namespace {

constexpr uint32_t kDefaultEventSampleMs = 1000;
constexpr uint32_t kDefaultTimelineSamples = 300;  // 5 minutes at the default interval

// A control channel whose connection failed: the freeze degrades to "VMM pause failed: <why>"
// with a live walk, and there is nothing to resume.
class UnreachableControl : public dump::VmmControl {
 public:
  explicit UnreachableControl(absl::Status why) : why_(std::move(why)) {}
  absl::StatusOr<dump::VmmRunState> QueryRunState(std::chrono::milliseconds) override {
    return Why();
  }
  absl::Status Stop(std::chrono::milliseconds) override { return Why(); }
  absl::Status Cont(std::chrono::milliseconds) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<dump::VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds) override {
    return why_;
  }

 private:
  absl::Status Why() const {
    return absl::Status(why_.code(), absl::StrCat("connect: ", why_.message()));
  }
  absl::Status why_;
};

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp ts;
  int64_t nanos = absl::ToUnixNanos(absl::Now());
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

dump::AttachSpec SpecOf(const kfreeze::v1::TargetConfig& c) {
  dump::AttachSpec spec;
  spec.name = c.name();
  spec.ram_path = c.ram_path();
  spec.vmm_pid = c.vmm_pid();
  spec.qmp_socket = c.qmp_socket();
  spec.ram_layout = c.ram_layout();
  spec.btf_path = c.btf_path();
  return spec;
}

uint64_t MicrosSince(std::chrono::steady_clock::time_point begin) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - begin)
                                   .count());
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

ControlFactory QmpControlFactory() {
  return
      [](const std::string& socket,
         std::chrono::milliseconds timeout) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
        absl::StatusOr<std::unique_ptr<dump::QmpControl>> c =
            dump::QmpControl::Connect(socket, timeout);
        if (!c.ok()) return c.status();
        return std::unique_ptr<dump::VmmControl>(std::move(*c));
      };
}

FreezeDefaults DefaultsFromConfig(const kfreeze::v1::FreezeDefaults& c) {
  FreezeDefaults d;
  if (c.deadline_ms()) d.soft_deadline = std::chrono::milliseconds(c.deadline_ms());
  if (c.hard_deadline_grace_ms())
    d.hard_grace = std::chrono::milliseconds(c.hard_deadline_grace_ms());
  if (c.qmp_timeout_ms()) d.control_timeout = std::chrono::milliseconds(c.qmp_timeout_ms());
  if (c.regs_timeout_ms()) d.regs_timeout = std::chrono::milliseconds(c.regs_timeout_ms());
  return d;
}

FreezeCoordinator::FreezeCoordinator(dump::Attacher attacher, ControlFactory control_factory,
                                     DumpArchive* archive, DumpBus* bus, FreezeDefaults defaults)
    : attacher_(std::move(attacher)),
      control_factory_(std::move(control_factory)),
      archive_(archive),
      bus_(bus),
      defaults_(defaults) {}

FreezeCoordinator::~FreezeCoordinator() { Shutdown(); }

std::shared_ptr<FreezeCoordinator::Target> FreezeCoordinator::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : it->second;
}

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
  auto target = std::make_shared<Target>(config, source);
  if (!config.event_sampling_off()) {
    target->timeline = std::make_shared<dump::EventTimeline>(config.event_timeline_samples()
                                                                 ? config.event_timeline_samples()
                                                                 : kDefaultTimelineSamples);
  }
  std::shared_ptr<Target> old;
  {
    absl::MutexLock lock(&mu_);
    // Checked with the insert, under the lock Shutdown takes to set the flag.
    if (shutting_down_) return absl::UnavailableError("daemon is shutting down");
    auto it = targets_.find(config.name());
    if (it != targets_.end()) {
      if (!replace) {
        return absl::AlreadyExistsError(absl::StrCat("target ", config.name(), " exists"));
      }
      old = it->second;
    }
    targets_[config.name()] = target;
  }
  if (old) {
    StopTriggers(*old);
    ResumeIfPaused(*old);
  }
  spdlog::info("target {} added ({}): ram={} pid={} qmp={}", config.name(), source,
               config.ram_path(), config.vmm_pid(), config.qmp_socket());
  StartBackgroundAttach(target);
  if (target->timeline) {
    auto sampler = std::make_unique<EventSampler>(
        this, config.name(),
        std::chrono::milliseconds(config.event_sample_ms() ? config.event_sample_ms()
                                                           : kDefaultEventSampleMs),
        target->timeline);
    absl::MutexLock lock(&target->mu);
    target->sampler = std::move(sampler);
  }
  if (config.triggers().late_enabled() || config.triggers().early_enabled()) {
    auto runner = std::make_unique<TriggerRunner>(this, config);
    absl::MutexLock lock(&target->mu);
    target->triggers = std::move(runner);
  }
  return Describe(*target);
}

void FreezeCoordinator::StartBackgroundAttach(std::shared_ptr<Target> target) {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) {
    // Shutdown already collected the threads to join: a new one would never be joined.
    target->first_attach_done.Notify();
    return;
  }
  std::erase_if(attach_threads_, [](AttachThread& t) {
    if (!t.finished->load()) return false;
    t.thread.join();  // it has returned from its body: no wait
    return true;
  });
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, target, finished] {
    (void)EnsureAttached(*target);
    target->first_attach_done.Notify();
    finished->store(true);
  });
  attach_threads_.push_back(AttachThread{std::move(thread), std::move(finished)});
}

size_t FreezeCoordinator::AttachThreadsHeld() const {
  absl::MutexLock lock(&mu_);
  return attach_threads_.size();
}

bool FreezeCoordinator::BeginCapture() {
  absl::MutexLock lock(&mu_);
  if (shutting_down_) return false;
  ++captures_running_;
  return true;
}

void FreezeCoordinator::EndCapture() {
  absl::MutexLock lock(&mu_);
  --captures_running_;
}

int FreezeCoordinator::JoinersInFlight(const std::string& name) const {
  std::shared_ptr<Target> t = Find(name);
  if (!t) return 0;
  absl::MutexLock lock(&t->mu);
  return t->inflight ? t->inflight->joiners.load() : 0;
}

void FreezeCoordinator::WaitForAttach(const std::string& name) {
  if (std::shared_ptr<Target> t = Find(name)) t->first_attach_done.WaitForNotification();
}

absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> FreezeCoordinator::EnsureAttached(
    Target& target) {
  absl::MutexLock attach_lock(&target.attach_mu);
  std::shared_ptr<dump::KernelAttachment> current;
  {
    absl::MutexLock lock(&target.mu);
    current = target.attachment;
  }
  if (current) {
    absl::Status valid = current->Revalidate();
    if (valid.ok()) return current;
    spdlog::warn("target {}: kernel changed ({}); attaching again", target.config.name(),
                 valid.ToString());
  }
  {
    absl::MutexLock lock(&target.mu);
    target.state = kfreeze::v1::TARGET_STATE_ATTACHING;
  }
  auto begin = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attached =
      attacher_(SpecOf(target.config));
  uint64_t us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - begin)
                                          .count());
  absl::MutexLock lock(&target.mu);
  target.attach_us = us;
  if (!attached.ok()) {
    target.state = kfreeze::v1::TARGET_STATE_FAILED;
    target.attachment = nullptr;
    target.last_error = attached.status().ToString();
    spdlog::error("target {}: attach failed after {}us: {}", target.config.name(), us,
                  target.last_error);
    return absl::FailedPreconditionError(absl::StrCat(
        "target ", target.config.name(), " is not attached: ", attached.status().message()));
  }
  target.attachment = *attached;
  target.state = kfreeze::v1::TARGET_STATE_ATTACHED;
  target.kernel_release = (*attached)->kernel_release();
  target.attached_at = Now();
  target.last_error.clear();
  spdlog::info("target {}: attached kernel {} in {}us ({} phases) {}", target.config.name(),
               target.kernel_release, us, (*attached)->phases().size(),
               (*attached)->AttachSummary());
  return *attached;
}

absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> FreezeCoordinator::Attachment(
    const std::string& name) {
  std::shared_ptr<Target> t = Find(name);
  if (!t) return absl::NotFoundError(absl::StrCat("no target ", name));
  return EnsureAttached(*t);
}

std::shared_ptr<dump::KernelAttachment> FreezeCoordinator::CachedAttachment(
    const std::string& name) const {
  std::shared_ptr<Target> t = Find(name);
  if (!t) return nullptr;
  absl::MutexLock lock(&t->mu);
  return t->attachment;
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Freeze(const FreezeRequest& request,
                                                         kfreeze::v1::Trigger trigger) {
  return Run(request, trigger, /*publish=*/true);
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Capture(const FreezeRequest& request,
                                                          kfreeze::v1::Trigger trigger) {
  return Run(request, trigger, /*publish=*/false);
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::Run(const FreezeRequest& request,
                                                      kfreeze::v1::Trigger trigger, bool publish) {
  if (!BeginCapture()) return absl::UnavailableError("daemon is shutting down");
  absl::Cleanup end_capture = [this] { EndCapture(); };
  std::shared_ptr<Target> target = Find(request.target());
  if (!target) return absl::NotFoundError(absl::StrCat("no target '", request.target(), "'"));

  std::shared_ptr<InFlight> flight;
  bool leader = false;
  {
    absl::MutexLock lock(&target->mu);
    if (target->inflight) {
      flight = target->inflight;
    } else {
      flight = std::make_shared<InFlight>();
      target->inflight = flight;
      leader = true;
    }
  }
  if (!leader) {
    // Join the capture in flight: same dump, no second pause.
    flight->joiners.fetch_add(1);
    flight->done.WaitForNotification();
    if (!flight->result.ok()) return flight->result.status();
    FreezeResponse joined = *flight->result;
    joined.set_coalesced(true);
    return joined;
  }
  uint64_t prep_us = 0;
  absl::StatusOr<FreezeResponse> result = CaptureOnce(*target, request, trigger, &prep_us);
  uint64_t archive_us = 0;
  if (result.ok() && publish) {
    auto archive_begin = std::chrono::steady_clock::now();
    absl::StatusOr<kfreeze::v1::DumpSummary> stored = Publish(*result->mutable_envelope());
    archive_us = MicrosSince(archive_begin);
    if (stored.ok()) {
      result->set_dump_id(stored->dump_id());
      absl::MutexLock lock(&target->mu);
      target->last_dump_id = stored->dump_id();
    } else {
      spdlog::error("target {}: dump not archived: {}", target->config.name(),
                    stored.status().ToString());
    }
  }
  flight->result = result;
  {
    absl::MutexLock lock(&target->mu);
    target->inflight = nullptr;
  }
  flight->done.Notify();
  if (result.ok()) {
    spdlog::info(
        "freeze target={} id={} trigger={} {} live={} joiners={} {} prep={}.{}ms "
        "archive={}.{}ms bytes={}",
        target->config.name(), result->dump_id(), kfreeze::v1::Trigger_Name(trigger),
        SchemaName(result->envelope()), result->envelope().live(), flight->joiners.load(),
        TimingLine(result->envelope()), prep_us / 1000, (prep_us % 1000) / 100, archive_us / 1000,
        (archive_us % 1000) / 100, result->envelope().ByteSizeLong());
  } else {
    spdlog::warn("freeze target={} failed: {}", target->config.name(), result.status().ToString());
  }
  return result;
}

absl::StatusOr<FreezeResponse> FreezeCoordinator::CaptureOnce(Target& target,
                                                              const FreezeRequest& request,
                                                              kfreeze::v1::Trigger trigger,
                                                              uint64_t* prep_us) {
  auto prep_begin = std::chrono::steady_clock::now();
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attachment = EnsureAttached(target);
  if (!attachment.ok()) return attachment.status();

  dump::FreezeOptions options;
  options.soft_deadline = defaults_.soft_deadline;
  if (target.config.deadline_ms()) {
    options.soft_deadline = std::chrono::milliseconds(target.config.deadline_ms());
  }
  if (request.deadline_ms())
    options.soft_deadline = std::chrono::milliseconds(request.deadline_ms());
  options.hard_grace = defaults_.hard_grace;
  options.control_timeout = defaults_.control_timeout;
  options.regs_timeout = defaults_.regs_timeout;
  options.keep_paused = request.keep_paused();
  options.sections.assign(request.sections().begin(), request.sections().end());
  options.cancel = &cancel_walks_;
  options.active_pauses = &active_pauses_;
  std::shared_ptr<dump::KernelAttachment> kernel = *attachment;
  options.symbolize_ip = [kernel](uint64_t ip) { return kernel->SymbolizeIp(ip); };

  std::unique_ptr<dump::VmmControl> control;
  {
    absl::MutexLock lock(&target.mu);
    control = std::move(target.paused_control);  // a VM we left paused: reuse its connection
    target.state = kfreeze::v1::TARGET_STATE_FREEZING;
  }
  options.pause_held = control != nullptr;
  if (!control && !target.config.qmp_socket().empty()) {
    absl::StatusOr<std::unique_ptr<dump::VmmControl>> opened =
        control_factory_(target.config.qmp_socket(), defaults_.control_timeout);
    control =
        opened.ok() ? std::move(*opened) : std::make_unique<UnreachableControl>(opened.status());
  }

  *prep_us = MicrosSince(prep_begin);
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

void FreezeCoordinator::AttachTimeline(const Target& target, DumpEnvelope& envelope) {
  kfreeze::v1::FailureDumpReport* report = nullptr;
  if (envelope.has_single()) report = envelope.mutable_single();
  if (envelope.has_degraded() && envelope.degraded().has_partial()) {
    report = envelope.mutable_degraded()->mutable_partial();
  }
  if (report == nullptr) return;
  if (target.timeline) {
    target.timeline->CopyInto(*report);
  } else if (report->event_counter_timeline_size() == 0) {
    report->set_event_counter_timeline_unavailable("event sampling is off for this target");
  }
}

absl::StatusOr<kfreeze::v1::DumpSummary> FreezeCoordinator::Publish(DumpEnvelope& envelope) {
  absl::StatusOr<kfreeze::v1::DumpSummary> stored = archive_->Store(envelope);
  if (!stored.ok()) return stored.status();
  bus_->Publish(*stored, envelope);
  return stored;
}

void FreezeCoordinator::StopTriggers(Target& target) {
  std::unique_ptr<TriggerRunner> runner;
  std::unique_ptr<EventSampler> sampler;
  {
    absl::MutexLock lock(&target.mu);
    runner = std::move(target.triggers);
    sampler = std::move(target.sampler);
  }
  // Outside the lock: the runner may be capturing this target.
  if (runner) runner->Stop();
  if (sampler) sampler->Stop();
}

void FreezeCoordinator::ResumeIfPaused(Target& target) {
  std::unique_ptr<dump::VmmControl> control;
  {
    absl::MutexLock lock(&target.mu);
    control = std::move(target.paused_control);
    if (target.state == kfreeze::v1::TARGET_STATE_PAUSED) {
      target.state = kfreeze::v1::TARGET_STATE_ATTACHED;
    }
  }
  if (!control) return;
  absl::Status s = control->Cont(defaults_.control_timeout);
  if (s.ok()) {
    spdlog::info("target {}: resumed", target.config.name());
  } else {
    spdlog::error("target {}: resume failed: {}", target.config.name(), s.ToString());
  }
}

absl::StatusOr<kfreeze::v1::Target> FreezeCoordinator::Resume(const std::string& name) {
  std::shared_ptr<Target> target = Find(name);
  if (!target) return absl::NotFoundError(absl::StrCat("no target '", name, "'"));
  {
    absl::MutexLock lock(&target->mu);
    if (!target->paused_control) {
      // Includes a VM someone else paused: kfreeze only resumes its own pauses.
      return absl::FailedPreconditionError(
          absl::StrCat("target ", name, " is not kept paused by kfreeze"));
    }
  }
  ResumeIfPaused(*target);
  return Describe(*target);
}

absl::Status FreezeCoordinator::RemoveTarget(const std::string& name) {
  std::shared_ptr<Target> target;
  {
    absl::MutexLock lock(&mu_);
    auto it = targets_.find(name);
    if (it == targets_.end()) return absl::NotFoundError(absl::StrCat("no target '", name, "'"));
    target = it->second;
    targets_.erase(it);
  }
  StopTriggers(*target);
  std::shared_ptr<InFlight> flight;
  {
    absl::MutexLock lock(&target->mu);
    flight = target->inflight;
  }
  if (flight) flight->done.WaitForNotification();
  ResumeIfPaused(*target);
  spdlog::info("target {} detached", name);
  return absl::OkStatus();
}

kfreeze::v1::Target FreezeCoordinator::Describe(const Target& t) const {
  kfreeze::v1::Target out;
  out.set_name(t.config.name());
  *out.mutable_config() = t.config;
  out.set_source(t.source);
  absl::MutexLock lock(&t.mu);
  out.set_state(t.state);
  out.set_kernel_release(t.kernel_release);
  out.set_last_error(t.last_error);
  if (t.attached_at.seconds() != 0) *out.mutable_attached_at() = t.attached_at;
  out.set_last_dump_id(t.last_dump_id);
  out.set_dumps_taken(t.dumps_taken);
  out.set_attach_duration_us(t.attach_us);
  return out;
}

absl::StatusOr<kfreeze::v1::Target> FreezeCoordinator::GetTarget(const std::string& name) const {
  std::shared_ptr<Target> t = Find(name);
  if (!t) return absl::NotFoundError(absl::StrCat("no target '", name, "'"));
  return Describe(*t);
}

std::vector<kfreeze::v1::Target> FreezeCoordinator::ListTargets() const {
  std::vector<std::shared_ptr<Target>> all;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : targets_) all.push_back(t);
  }
  std::vector<kfreeze::v1::Target> out;
  for (const auto& t : all) out.push_back(Describe(*t));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return out;
}

void FreezeCoordinator::ReloadConfigTargets(const std::vector<kfreeze::v1::TargetConfig>& targets) {
  std::vector<std::string> stale;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [target_name, t] : targets_) {
      if (t->source != "config") continue;
      const std::string& name = target_name;  // clang 14 cannot capture a structured binding
      bool kept = std::any_of(targets.begin(), targets.end(),
                              [&](const auto& c) { return c.name() == name; });
      if (!kept) stale.push_back(name);
    }
  }
  for (const std::string& name : stale) (void)RemoveTarget(name);
  for (const auto& config : targets) {
    std::shared_ptr<Target> existing = Find(config.name());
    if (existing && existing->source != "config") {
      spdlog::warn("reload: target {} comes from {}; config entry ignored", config.name(),
                   existing->source);
      continue;
    }
    if (existing && SameTargetConfig(existing->config, config)) continue;
    absl::StatusOr<kfreeze::v1::Target> added = AddTarget(config, "config", /*replace=*/true);
    if (!added.ok())
      spdlog::error("reload: target {}: {}", config.name(), added.status().ToString());
  }
}

void FreezeCoordinator::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_.exchange(true)) {
      // Second call (destructor after an explicit Shutdown): threads are already joined.
      return;
    }
  }
  cancel_walks_ = true;
  // VMs paused mid-walk run again now, not when each walk reaches its hard deadline.
  active_pauses_.ResumeAll();
  {
    std::vector<std::shared_ptr<Target>> all;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, t] : targets_) all.push_back(t);
    }
    for (const auto& t : all) StopTriggers(*t);
  }
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* running) { return *running == 0; }, &captures_running_));
  }
  std::vector<std::shared_ptr<Target>> all;
  std::vector<AttachThread> threads;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : targets_) all.push_back(t);
    threads.swap(attach_threads_);
  }
  for (const auto& t : all) ResumeIfPaused(*t);
  for (AttachThread& t : threads) {
    if (t.thread.joinable()) t.thread.join();
  }
}

}  // namespace kfreeze::server
