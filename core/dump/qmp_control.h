// VmmControl over QMP (core/qmp): `query-status`, `stop`, `cont`, `query-cpus-fast`, and HMP
// `info registers -a` parsed per vCPU.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/dump/vmm_control.h"
#include "core/qmp/qmp_client.h"

namespace kfreeze::dump {

class QmpControl : public VmmControl {
 public:
  // Connects and negotiates capabilities within `timeout`. Unavailable when nobody listens.
  static absl::StatusOr<std::unique_ptr<QmpControl>> Connect(const std::string& socket_path,
                                                             std::chrono::milliseconds timeout);
  explicit QmpControl(std::unique_ptr<QmpClient> client) : client_(std::move(client)) {}

  absl::StatusOr<VmmRunState> QueryRunState(std::chrono::milliseconds timeout) override;
  absl::Status Stop(std::chrono::milliseconds timeout) override;
  absl::Status StopAskingRegisters(std::chrono::milliseconds timeout) override;
  absl::Status Cont(std::chrono::milliseconds timeout) override;
  absl::StatusOr<std::vector<VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds timeout) override;
  absl::StatusOr<std::vector<VcpuThread>> QueryVcpuThreads(
      std::chrono::milliseconds timeout) override;

  QmpClient& client() { return *client_; }

 private:
  std::unique_ptr<QmpClient> client_;
  // The register request StopAskingRegisters queued, for the next ReadRegisters (another thread).
  absl::Mutex mu_;
  std::optional<uint64_t> asked_registers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze::dump
