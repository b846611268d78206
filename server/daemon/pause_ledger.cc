#include "server/daemon/pause_ledger.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

class PauseTrackingControl : public dump::VmmControl {
 public:
  PauseTrackingControl(std::unique_ptr<dump::VmmControl> inner, std::string qmp_socket,
                       std::shared_ptr<PauseLedger> ledger)
      : inner_(std::move(inner)), qmp_socket_(std::move(qmp_socket)), ledger_(std::move(ledger)) {}

  absl::StatusOr<dump::VmmRunState> QueryRunState(std::chrono::milliseconds timeout) override {
    return inner_->QueryRunState(timeout);
  }
  absl::Status Stop(std::chrono::milliseconds timeout) override {
    // Recorded first: kfreezed may die the moment the VM is paused.
    ledger_->Hold(qmp_socket_);
    return inner_->Stop(timeout);
  }
  absl::Status StopAskingRegisters(std::chrono::milliseconds timeout) override {
    ledger_->Hold(qmp_socket_);
    return inner_->StopAskingRegisters(timeout);
  }
  absl::Status Cont(std::chrono::milliseconds timeout) override {
    absl::Status s = inner_->Cont(timeout);
    // After a failed cont the VM may still be paused: it stays recorded, so a dying kfreezed's
    // resumer or the next kfreezed still resumes it.
    if (s.ok()) ledger_->Release(qmp_socket_);
    return s;
  }
  absl::StatusOr<std::vector<dump::VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds timeout) override {
    return inner_->ReadRegisters(timeout);
  }
  absl::StatusOr<std::vector<dump::VcpuThread>> QueryVcpuThreads(
      std::chrono::milliseconds timeout) override {
    return inner_->QueryVcpuThreads(timeout);
  }

 private:
  std::unique_ptr<dump::VmmControl> inner_;
  const std::string qmp_socket_;
  std::shared_ptr<PauseLedger> ledger_;
};

}  // namespace

void PauseLedger::Hold(const std::string& qmp_socket) {
  if (markers_) {
    if (absl::Status s = markers_->Write(qmp_socket); !s.ok()) {
      spdlog::warn("pause marker for {} not written: {}", qmp_socket, s.ToString());
    }
  }
  if (resumer_ && !resumer_->Hold(qmp_socket)) {
    spdlog::warn("the resumer cannot be told about {} (unusable path)", qmp_socket);
  }
}

void PauseLedger::Release(const std::string& qmp_socket) {
  if (resumer_) resumer_->Release(qmp_socket);
  if (markers_) markers_->Remove(qmp_socket);
}

ControlFactory TrackPauses(ControlFactory inner, std::shared_ptr<PauseLedger> ledger) {
  return
      [inner = std::move(inner), ledger = std::move(ledger)](
          const std::string& qmp_socket,
          std::chrono::milliseconds timeout) -> absl::StatusOr<std::unique_ptr<dump::VmmControl>> {
        absl::StatusOr<std::unique_ptr<dump::VmmControl>> opened = inner(qmp_socket, timeout);
        if (!opened.ok()) return opened.status();
        return std::unique_ptr<dump::VmmControl>(
            new PauseTrackingControl(std::move(*opened), qmp_socket, ledger));
      };
}

}  // namespace kfreeze::server
