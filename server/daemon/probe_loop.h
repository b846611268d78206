// The thread shared by a target's background runners (auto-triggers, event sampling): wait for
// an attachment whose kernel can be probed (retrying a failed one every few seconds), run rounds
// against it, and start over when the target re-attaches (a rebooted guest needs fresh probes).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "core/dump/attachment.h"

namespace kfreeze::server {

// What a runner may ask of its target: the narrow view the coordinator hands it.
struct TargetAttachments {
  // The attachment, attaching now if needed.
  std::function<absl::StatusOr<std::shared_ptr<dump::KernelAttachment>>()> ensure;
  // The attachment as cached, without attach work (null when none).
  std::function<std::shared_ptr<dump::KernelAttachment>()> cached;
};

class ProbeLoop {
 public:
  // One round against the armed kernel; returns how long to wait before the next.
  using Round = std::function<std::chrono::milliseconds()>;
  // Arms the rounds for a kernel that has probes.
  using Arm = std::function<Round(const std::shared_ptr<dump::KernelAttachment>& kernel)>;
  // Why nothing is armed (attach failed, or the kernel has no probes); retried later.
  using Unarmed = std::function<void(const absl::Status& why)>;

  ProbeLoop(TargetAttachments attachments, Arm arm, Unarmed unarmed);
  ~ProbeLoop();  // Stop()
  // Joins the thread; a round in progress finishes first.
  void Stop();

 private:
  void Run();

  const TargetAttachments attachments_;
  const Arm arm_;
  const Unarmed unarmed_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace kfreeze::server
