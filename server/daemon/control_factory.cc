#include "server/daemon/control_factory.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dump/qmp_control.h"

namespace kfreeze::server {
namespace {

class UnreachableControl : public dump::VmmControl {
 public:
  explicit UnreachableControl(absl::Status why) : why_(std::move(why)) {}
  absl::StatusOr<dump::VmmRunState> QueryRunState(std::chrono::milliseconds) override {
    return Why();
  }
  absl::Status Stop(std::chrono::milliseconds) override { return Why(); }
  // Nothing was paused through a channel that never connected.
  absl::Status Cont(std::chrono::milliseconds) override { return absl::OkStatus(); }
  absl::StatusOr<std::vector<dump::VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds) override {
    return why_;
  }
  absl::StatusOr<std::vector<dump::VcpuThread>> QueryVcpuThreads(
      std::chrono::milliseconds) override {
    return Why();
  }

 private:
  absl::Status Why() const {
    return absl::Status(why_.code(), absl::StrCat("connect: ", why_.message()));
  }
  absl::Status why_;
};

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

std::unique_ptr<dump::VmmControl> OpenControlOrUnreachable(const ControlFactory& factory,
                                                           const std::string& qmp_socket,
                                                           std::chrono::milliseconds timeout) {
  absl::StatusOr<std::unique_ptr<dump::VmmControl>> opened = factory(qmp_socket, timeout);
  if (opened.ok()) return std::move(*opened);
  return std::make_unique<UnreachableControl>(opened.status());
}

}  // namespace kfreeze::server
