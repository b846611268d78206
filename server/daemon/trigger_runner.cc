#include "server/daemon/trigger_runner.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/gdb/stub_watch.h"
#include "server/daemon/limits.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr std::chrono::milliseconds kDefaultLatePoll{20};
constexpr std::chrono::milliseconds kDefaultEarlyPoll{250};
// The longest the runner sleeps on the gdbstub socket between rounds (bounds Stop()).
constexpr std::chrono::milliseconds kMaxWatchWait{100};
// How often a target without a gdbstub watchpoint tries again (the VM was paused, ...).
constexpr std::chrono::seconds kWatchRetry{30};

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

bool LateWatchpointWanted(const kfreeze::v1::TriggerConfig& c) {
  const std::string& s = c.late_source();
  // An unknown value polls: a typo must not attach a debugger to someone's VM.
  return c.late_enabled() && (s.empty() || s == "auto" || s == "watchpoint");
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

std::shared_ptr<gdb::StubWatch> TriggerRunner::OpenWatch(bool step_past_write) {
  gdb::StubWatchOptions options{target_.gdbstub(), target_.qmp_socket(), absl::Seconds(1)};
  options.step_past_write = step_past_write;
  absl::StatusOr<std::unique_ptr<gdb::StubWatch>> opened = gdb::StubWatch::Open(options);
  if (opened.ok()) {
    last_watch_error_.clear();
    spdlog::info("triggers {}: late watchpoint through the gdbstub at {}", target_.name(),
                 (*opened)->address());
    return std::move(*opened);
  }
  // Once per distinct reason: the runner retries every kWatchRetry.
  if (opened.status().ToString() != last_watch_error_) {
    last_watch_error_ = opened.status().ToString();
    const std::string& source = target_.triggers().late_source();
    spdlog::warn("triggers {}: late trigger polls (late_source {}): no gdbstub watchpoint: {}",
                 target_.name(), source.empty() ? "auto" : source,
                 std::string(opened.status().message()));
  }
  return nullptr;
}

ProbeLoop::Round TriggerRunner::Arm(const std::shared_ptr<dump::KernelAttachment>& kernel) {
  auto engine = std::make_shared<dump::AutoTrigger>(
      settings_, kernel->probes(),
      [this](kfreeze::v1::Trigger trigger) { return Capture(trigger, /*held=*/false); },
      [this](kfreeze::v1::DumpEnvelope envelope) { Publish(std::move(envelope)); });
  if (const std::string& s = target_.triggers().late_source();
      !s.empty() && s != "auto" && s != "watchpoint" && s != "poll") {
    spdlog::warn("triggers {}: unknown late_source '{}' (auto, watchpoint, poll): polling",
                 target_.name(), s);
  }
  // A guest whose watchpoints stop before the store (arm64) has each hit stepped past it.
  const bool step_past_write = !kernel->watchpoint_stops_after_write();
  const bool use_watch = LateWatchpointWanted(target_.triggers());
  spdlog::info("triggers {}: armed (late={} early={} late_source={}{})", target_.name(),
               settings_.late_enabled, settings_.early_enabled, use_watch ? "watchpoint" : "poll",
               use_watch && step_past_write ? ", each hit stepped past the store" : "");
  struct WatchState {
    std::shared_ptr<gdb::StubWatch> watch;
    std::chrono::steady_clock::time_point next_open{};
    uint64_t last_armed = 0;
    bool given_up_logged = false;
  };
  auto state = std::make_shared<WatchState>();
  auto last_error = std::make_shared<std::string>();
  // The engine keeps a raw pointer to state->watch; neither uses the other when destroyed.
  return [this, engine, state, last_error, use_watch, step_past_write] {
    const auto now = std::chrono::steady_clock::now();
    if (use_watch && !state->watch && now >= state->next_open) {
      state->next_open = now + kWatchRetry;
      state->watch = OpenWatch(step_past_write);
      if (state->watch) {
        engine->SetWatch(state->watch.get(), [this](kfreeze::v1::Trigger trigger) {
          return Capture(trigger, /*held=*/true);
        });
      }
    }
    std::chrono::milliseconds wait = engine->Step(now);
    if (engine->last_probe_error() != *last_error) {
      *last_error = engine->last_probe_error();
      if (!last_error->empty()) spdlog::warn("triggers {}: {}", target_.name(), *last_error);
    }
    if (!state->watch) return wait;
    if (!engine->watch_error().empty()) {
      if (!state->given_up_logged) {
        state->given_up_logged = true;
        spdlog::warn("triggers {}: late watchpoint given up, polling: {}", target_.name(),
                     engine->watch_error());
      }
      return wait;
    }
    if (engine->watch_armed_kva() != state->last_armed) {
      state->last_armed = engine->watch_armed_kva();
      spdlog::info("triggers {}: watchpoint {}", target_.name(),
                   state->last_armed
                       ? absl::StrCat("on exit_kind at 0x", absl::Hex(state->last_armed))
                       : std::string("removed (no scheduler to watch)"));
    }
    // Sleep on the stub's socket so a hit (the VM stands still meanwhile) is handled at once.
    pollfd p{state->watch->fd(), POLLIN, 0};
    const auto slept = std::min(wait, kMaxWatchWait);
    if (::poll(&p, 1, static_cast<int>(slept.count())) > 0) return std::chrono::milliseconds(0);
    return std::max(wait - slept, std::chrono::milliseconds(0));
  };
}

absl::StatusOr<kfreeze::v1::DumpEnvelope> TriggerRunner::Capture(kfreeze::v1::Trigger trigger,
                                                                 bool held) {
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
  absl::StatusOr<kfreeze::v1::FreezeResponse> r = held && actions_.capture_held
                                                      ? actions_.capture_held(request, trigger)
                                                      : actions_.capture(request, trigger);
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
