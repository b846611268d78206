#include "server/daemon/trigger_runner.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/daemon/limits.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

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

TriggerRunner::TriggerRunner(TargetAttachments attachments, TriggerActions actions,
                             kfreeze::v1::TargetConfig target)
    : actions_(std::move(actions)),
      target_(std::move(target)),
      settings_(SettingsFromConfig(target_.triggers())),
      captures_(CaptureBucketFromConfig(target_.triggers(), TokenBucket::Clock::now())),
      loop_(
          std::move(attachments),
          [this](const std::shared_ptr<dump::KernelAttachment>& kernel) { return Arm(kernel); },
          [this](const absl::Status& why) {
            spdlog::warn("triggers {}: not armed: {}", target_.name(), why.ToString());
          }) {}

ProbeLoop::Round TriggerRunner::Arm(const std::shared_ptr<dump::KernelAttachment>& kernel) {
  auto engine = std::make_shared<dump::AutoTrigger>(
      settings_, kernel->probes(),
      [this](kfreeze::v1::Trigger trigger) { return Capture(trigger); },
      [this](kfreeze::v1::DumpEnvelope envelope) { Publish(std::move(envelope)); });
  spdlog::info("triggers {}: armed (late={} early={})", target_.name(), settings_.late_enabled,
               settings_.early_enabled);
  auto last_error = std::make_shared<std::string>();
  return [this, engine, last_error] {
    std::chrono::milliseconds wait = engine->Step(std::chrono::steady_clock::now());
    if (engine->last_probe_error() != *last_error) {
      *last_error = engine->last_probe_error();
      if (!last_error->empty()) spdlog::warn("triggers {}: {}", target_.name(), *last_error);
    }
    return wait;
  };
}

absl::StatusOr<kfreeze::v1::DumpEnvelope> TriggerRunner::Capture(kfreeze::v1::Trigger trigger) {
  const std::string& name = target_.name();
  if (!captures_.TryTake(TokenBucket::Clock::now())) {
    // Once per run of skipped captures: a flooding guest must not flood the log either.
    if (!rate_limited_) {
      spdlog::warn("triggers {}: {} capture skipped: rate limit (further skips not logged)", name,
                   kfreeze::v1::Trigger_Name(trigger));
    }
    rate_limited_ = true;
    return absl::ResourceExhaustedError(
        absl::StrCat("auto-trigger rate limit of target ", name,
                     " reached (triggers.capture_burst / triggers.captures_per_hour)"));
  }
  rate_limited_ = false;
  kfreeze::v1::FreezeRequest request;
  request.set_target(name);
  absl::StatusOr<kfreeze::v1::FreezeResponse> r = actions_.capture(request, trigger);
  if (!r.ok()) return r.status();
  return std::move(*r->mutable_envelope());
}

void TriggerRunner::Publish(kfreeze::v1::DumpEnvelope envelope) {
  absl::StatusOr<kfreeze::v1::DumpSummary> s = actions_.publish(envelope);
  if (s.ok()) {
    spdlog::info("triggers {}: published {} ({})", target_.name(), s->dump_id(), s->summary());
  } else {
    spdlog::error("triggers {}: publish failed: {}", target_.name(), s.status().ToString());
  }
}

}  // namespace kfreeze::server
