#include "server/daemon/pause_recovery.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/qmp/qmp_client.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

constexpr absl::Duration kRetryEvery = absl::Milliseconds(50);
// Each command after the connection, on top of the connect budget.
constexpr absl::Duration kCommandTimeout = absl::Seconds(1);

// QmpClient::Connect reports connect(2) failures as Unavailable with strerror's text: a missing
// socket or a socket nobody listens on means the VMM is gone. A full backlog (EAGAIN) is not.
bool VmmGone(const absl::Status& connect_error) {
  return absl::StrContains(connect_error.message(), std::strerror(ENOENT)) ||
         absl::StrContains(connect_error.message(), std::strerror(ECONNREFUSED));
}

}  // namespace

PauseRecovery ResumeOwnPause(const std::string& qmp_socket, absl::Duration connect_budget) {
  const absl::Time deadline = absl::Now() + connect_budget;
  PauseRecovery r;
  std::unique_ptr<QmpClient> client;
  absl::Status last = absl::DeadlineExceededError("no connection attempt");
  while (true) {
    absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(1));
    absl::StatusOr<std::unique_ptr<QmpClient>> c = QmpClient::Connect(qmp_socket, left);
    if (c.ok()) {
      client = std::move(*c);
      break;
    }
    last = c.status();
    if (absl::Now() + kRetryEvery >= deadline) {
      r.outcome =
          VmmGone(last) ? PauseRecovery::Outcome::kVmGone : PauseRecovery::Outcome::kUnreachable;
      r.detail = last.ToString();
      return r;
    }
    absl::SleepFor(kRetryEvery);
  }
  absl::StatusOr<VmRunState> state = client->QueryStatus(kCommandTimeout);
  if (!state.ok()) {
    r.detail = state.status().ToString();
    return r;
  }
  if (state->running) {
    r.outcome = PauseRecovery::Outcome::kWasRunning;
    r.detail = state->status;
    return r;
  }
  if (state->status != "paused") {
    r.outcome = PauseRecovery::Outcome::kOtherState;
    r.detail = state->status;
    return r;
  }
  if (absl::Status s = client->Cont(kCommandTimeout); !s.ok()) {
    r.detail = s.ToString();
    return r;
  }
  absl::StatusOr<VmRunState> after = client->QueryStatus(kCommandTimeout);
  r.outcome = PauseRecovery::Outcome::kResumed;
  r.detail = after.ok() ? after->status : after.status().ToString();
  return r;
}

std::vector<PauseRecovery> ResumeOwnPauses(const std::vector<std::string>& qmp_sockets,
                                           absl::Duration connect_budget) {
  std::vector<PauseRecovery> results(qmp_sockets.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < qmp_sockets.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = ResumeOwnPause(qmp_sockets[i], connect_budget); });
  }
  for (std::thread& t : threads) t.join();
  return results;
}

std::string Describe(const PauseRecovery& r) {
  switch (r.outcome) {
    case PauseRecovery::Outcome::kResumed:
      return absl::StrCat("resumed (now ", r.detail, ")");
    case PauseRecovery::Outcome::kWasRunning:
      return "already running";
    case PauseRecovery::Outcome::kOtherState:
      return absl::StrCat("left ", r.detail, " (not kfreeze's pause)");
    case PauseRecovery::Outcome::kVmGone:
      return absl::StrCat("VM gone (", r.detail, ")");
    case PauseRecovery::Outcome::kUnreachable:
      return absl::StrCat("NOT resumed: ", r.detail);
  }
  return "?";
}

int ReconcilePauseMarkers(const PauseMarkers& markers, absl::Duration connect_budget) {
  const std::string boot = CurrentBootId();
  std::vector<PauseMarker> abandoned;
  for (PauseMarker& m : markers.List()) {
    if (!m.boot_id.empty() && !boot.empty() && m.boot_id != boot) {
      spdlog::info("pause marker for {} is from an earlier boot; removed", m.qmp_socket);
      unlink(m.path.c_str());
      continue;
    }
    if (OwnerAlive(m)) {
      spdlog::info("pause marker for {} belongs to running kfreezed pid {}; left alone",
                   m.qmp_socket, m.owner_pid);
      continue;
    }
    abandoned.push_back(std::move(m));
  }
  std::vector<std::string> sockets;
  for (const PauseMarker& m : abandoned) sockets.push_back(m.qmp_socket);
  const std::vector<PauseRecovery> results = ResumeOwnPauses(sockets, connect_budget);
  int resumed = 0;
  for (size_t i = 0; i < abandoned.size(); ++i) {
    const PauseRecovery& r = results[i];
    resumed += r.outcome == PauseRecovery::Outcome::kResumed;
    spdlog::warn("reconciled VM at {} paused by kfreezed pid {}: {}", abandoned[i].qmp_socket,
                 abandoned[i].owner_pid, Describe(r));
    if (r.outcome != PauseRecovery::Outcome::kUnreachable) unlink(abandoned[i].path.c_str());
  }
  return resumed;
}

}  // namespace kfreeze::server
