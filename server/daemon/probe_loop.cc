#include "server/daemon/probe_loop.h"

#include <utility>

#include "absl/time/time.h"

namespace kfreeze::server {
namespace {

// How long to wait before asking again for an attachment that failed or has no probes.
constexpr absl::Duration kRetryAttach = absl::Seconds(5);

}  // namespace

ProbeLoop::ProbeLoop(TargetAttachments attachments, Arm arm, Unarmed unarmed)
    : attachments_(std::move(attachments)), arm_(std::move(arm)), unarmed_(std::move(unarmed)) {
  thread_ = std::thread([this] { Run(); });
}

ProbeLoop::~ProbeLoop() { Stop(); }

void ProbeLoop::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

void ProbeLoop::Run() {
  while (!stop_.HasBeenNotified()) {
    absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attachment = attachments_.ensure();
    if (!attachment.ok() || (*attachment)->probes() == nullptr) {
      unarmed_(attachment.ok() ? absl::FailedPreconditionError("this kernel cannot be probed")
                               : attachment.status());
      stop_.WaitForNotificationWithTimeout(kRetryAttach);
      continue;
    }
    const std::shared_ptr<dump::KernelAttachment> kernel = *attachment;
    Round round = arm_(kernel);  // may hold raw pointers into `kernel`, which outlives it
    while (!stop_.HasBeenNotified()) {
      std::chrono::milliseconds wait = round();
      if (stop_.WaitForNotificationWithTimeout(absl::FromChrono(wait))) break;
      if (attachments_.cached() != kernel) break;  // re-attached (reboot)
    }
  }
}

}  // namespace kfreeze::server
