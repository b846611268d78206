#include "core/dump/qmp_control.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/dump/hmp_registers.h"

namespace kfreeze::dump {
namespace {

absl::Duration ToAbsl(std::chrono::milliseconds d) { return absl::Milliseconds(d.count()); }

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

absl::Status QmpControl::Cont(std::chrono::milliseconds timeout) {
  return client_->Cont(ToAbsl(timeout));
}

absl::StatusOr<std::vector<VcpuRegisters>> QmpControl::ReadRegisters(
    std::chrono::milliseconds timeout) {
  absl::StatusOr<std::string> text =
      client_->HumanMonitorCommand("info registers -a", ToAbsl(timeout));
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
