#include "server/daemon/trigger_runner.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/daemon/limits.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

// How long to wait before asking again for an attachment that failed or has no probes.
constexpr absl::Duration kRetryAttach = absl::Seconds(5);
constexpr std::chrono::milliseconds kDefaultLatePoll{20};
constexpr std::chrono::milliseconds kDefaultEarlyPoll{250};

}  // namespace

dump::TriggerSettings SettingsFromConfig(const kfreeze::v1::TriggerConfig& c) {
  dump::TriggerSettings s;
  s.late_enabled = c.late_enabled();
  s.early_enabled = c.early_enabled();
  s.late_poll = c.late_poll_ms() ? std::chrono::milliseconds(c.late_poll_ms()) : kDefaultLatePoll;
  s.early_poll =
      c.early_poll_ms() ? std::chrono::milliseconds(c.early_poll_ms()) : kDefaultEarlyPoll;
  s.watchdog_timeout = std::chrono::milliseconds(c.watchdog_timeout_ms());
  s.late_wait = std::chrono::milliseconds(c.late_wait_ms());
  return s;
}

TokenBucket CaptureBucketFromConfig(const kfreeze::v1::TriggerConfig& c,
                                    TokenBucket::Clock::time_point now) {
  uint32_t burst = c.capture_burst() ? c.capture_burst() : kDefaultCaptureBurst;
  uint32_t per_hour = c.captures_per_hour() ? c.captures_per_hour() : kDefaultCapturesPerHour;
  return TokenBucket(
      burst,
      std::chrono::duration_cast<TokenBucket::Clock::duration>(std::chrono::hours(1)) / per_hour,
      now);
}

TriggerRunner::TriggerRunner(FreezeCoordinator* coordinator, kfreeze::v1::TargetConfig target)
    : coordinator_(coordinator),
      target_(std::move(target)),
      captures_(CaptureBucketFromConfig(target_.triggers(), TokenBucket::Clock::now())) {
  thread_ = std::thread([this] { Loop(); });
}

TriggerRunner::~TriggerRunner() { Stop(); }

void TriggerRunner::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void TriggerRunner::Loop() {
  const std::string& name = target_.name();
  dump::TriggerSettings settings = SettingsFromConfig(target_.triggers());
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attachment =
        coordinator_->Attachment(name);
    if (!attachment.ok() || (*attachment)->probes() == nullptr) {
      spdlog::warn(
          "triggers {}: not armed: {}", name,
          attachment.ok() ? "this kernel has no trigger probes" : attachment.status().ToString());
      stop_.WaitForNotificationWithTimeout(kRetryAttach);
      continue;
    }
    std::shared_ptr<dump::KernelAttachment> kernel = *attachment;
    dump::AutoTrigger engine(
        settings, kernel->probes(),
        [this, &name](kfreeze::v1::Trigger trigger) -> absl::StatusOr<kfreeze::v1::DumpEnvelope> {
          if (!captures_.TryTake(TokenBucket::Clock::now())) {
            // Once per run of skipped captures: a flooding guest must not flood the log either.
            if (!rate_limited_) {
              spdlog::warn("triggers {}: {} capture skipped: rate limit (further skips not logged)",
                           name, kfreeze::v1::Trigger_Name(trigger));
            }
            rate_limited_ = true;
            return absl::ResourceExhaustedError(
                absl::StrCat("auto-trigger rate limit of target ", name,
                             " reached (triggers.capture_burst / triggers.captures_per_hour)"));
          }
          rate_limited_ = false;
          kfreeze::v1::FreezeRequest request;
          request.set_target(name);
          absl::StatusOr<kfreeze::v1::FreezeResponse> r = coordinator_->Capture(request, trigger);
          if (!r.ok()) return r.status();
          return std::move(*r->mutable_envelope());
        },
        [this, &name](kfreeze::v1::DumpEnvelope envelope) {
          absl::StatusOr<kfreeze::v1::DumpSummary> s = coordinator_->Publish(envelope);
          if (s.ok()) {
            spdlog::info("triggers {}: published {} ({})", name, s->dump_id(), s->summary());
          } else {
            spdlog::error("triggers {}: publish failed: {}", name, s.status().ToString());
          }
        });
    spdlog::info("triggers {}: armed (late={} early={})", name, settings.late_enabled,
                 settings.early_enabled);
    std::string last_error;
    while (!stop_.HasBeenNotified()) {
      std::chrono::milliseconds wait = engine.Step(std::chrono::steady_clock::now());
      if (engine.last_probe_error() != last_error) {
        last_error = engine.last_probe_error();
        if (!last_error.empty()) spdlog::warn("triggers {}: {}", name, last_error);
      }
      if (stop_.WaitForNotificationWithTimeout(absl::Milliseconds(wait.count()))) break;
      // A re-attached kernel (reboot) needs fresh probes.
      if (coordinator_->CachedAttachment(name) != kernel) break;
    }
  }
}

}  // namespace kfreeze::server
