// How the daemon opens the control channel of one freeze: QMP in production, fakes in tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::server {

using ControlFactory = std::function<absl::StatusOr<std::unique_ptr<dump::VmmControl>>(
    const std::string& qmp_socket, std::chrono::milliseconds timeout)>;

// QmpControl::Connect.
ControlFactory QmpControlFactory();

// The channel `factory` opens, or one that answers every call with the connect error: a freeze
// over it degrades to "VMM pause failed: <why>" with a live walk, and there is nothing to resume.
std::unique_ptr<dump::VmmControl> OpenControlOrUnreachable(const ControlFactory& factory,
                                                           const std::string& qmp_socket,
                                                           std::chrono::milliseconds timeout);

}  // namespace kfreeze::server
