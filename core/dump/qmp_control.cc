#include "core/dump/qmp_control.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/dump/hmp_registers.h"

namespace kfreeze::dump {
namespace {

absl::Duration ToAbsl(std::chrono::milliseconds d) { return absl::Milliseconds(d.count()); }

// Every vCPU's registers, the text ParseHmpRegisters reads.
constexpr char kRegistersCommand[] = "info registers -a";

}  // namespace

absl::StatusOr<std::unique_ptr<QmpControl>> QmpControl::Connect(const std::string& socket_path,
                                                                std::chrono::milliseconds timeout) {
  absl::StatusOr<std::unique_ptr<QmpClient>> client =
      QmpClient::Connect(socket_path, ToAbsl(timeout));
  if (!client.ok()) return client.status();
  return std::make_unique<QmpControl>(std::move(*client));
}

absl::StatusOr<VmmRunState> QmpControl::QueryRunState(std::chrono::milliseconds timeout) {
  absl::StatusOr<VmRunState> state = client_->QueryStatus(ToAbsl(timeout));
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrCat("query-status: ", state.status().message()));
  }
  return VmmRunState{state->running, state->status};
}

absl::Status QmpControl::Stop(std::chrono::milliseconds timeout) {
  return client_->Stop(ToAbsl(timeout));
}

absl::Status QmpControl::StopAskingRegisters(std::chrono::milliseconds timeout) {
  absl::StatusOr<uint64_t> stop = client_->Send("stop", nullptr, ToAbsl(timeout));
  if (!stop.ok()) return stop.status();
  absl::StatusOr<uint64_t> registers = client_->Send(
      "human-monitor-command", {{"command-line", kRegistersCommand}}, ToAbsl(timeout));
  absl::Status stopped = client_->Await(*stop, "stop", ToAbsl(timeout)).status();
  absl::MutexLock lock(&mu_);
  if (asked_registers_) client_->Forget(*asked_registers_);  // a stop whose registers nobody read
  asked_registers_.reset();
  if (registers.ok() && stopped.ok()) {
    asked_registers_ = *registers;
  } else if (registers.ok()) {
    client_->Forget(*registers);  // the registers of a VM we did not stop are nobody's
  }
  return stopped;
}

absl::Status QmpControl::Cont(std::chrono::milliseconds timeout) {
  return client_->Cont(ToAbsl(timeout));
}

absl::StatusOr<std::vector<VcpuRegisters>> QmpControl::ReadRegisters(
    std::chrono::milliseconds timeout) {
  std::optional<uint64_t> asked;
  {
    absl::MutexLock lock(&mu_);
    asked.swap(asked_registers_);
  }
  absl::StatusOr<std::string> text;
  if (asked) {
    absl::StatusOr<nlohmann::json> reply =
        client_->Await(*asked, "human-monitor-command", ToAbsl(timeout));
    if (!reply.ok()) return reply.status();
    if (!reply->is_string())
      return absl::DataLossError("human-monitor-command returned a non-string");
    text = reply->get<std::string>();
  } else {
    text = client_->HumanMonitorCommand(kRegistersCommand, ToAbsl(timeout));
  }
  if (!text.ok()) return text.status();
  return ParseHmpRegisters(*text);
}

absl::StatusOr<std::vector<VcpuThread>> QmpControl::QueryVcpuThreads(
    std::chrono::milliseconds timeout) {
  absl::StatusOr<std::vector<VcpuThreadId>> cpus = client_->QueryCpusFast(ToAbsl(timeout));
  if (!cpus.ok()) return cpus.status();
  std::vector<VcpuThread> threads;
  threads.reserve(cpus->size());
  for (const VcpuThreadId& c : *cpus) threads.push_back({c.cpu_index, c.thread_id});
  return threads;
}

}  // namespace kfreeze::dump
