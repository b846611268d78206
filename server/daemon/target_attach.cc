#include "server/daemon/target_attach.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/base/stopwatch.h"
#include "core/dump/run_phases.h"
#include "spdlog/spdlog.h"

namespace kfreeze::server {
namespace {

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp ts;
  int64_t nanos = absl::ToUnixNanos(absl::Now());
  ts.set_seconds(nanos / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
  return ts;
}

dump::AttachSpec SpecOf(const kfreeze::v1::TargetConfig& c) {
  dump::AttachSpec spec;
  spec.name = c.name();
  spec.ram_path = c.ram_path();
  spec.vmm_pid = c.vmm_pid();
  spec.qmp_socket = c.qmp_socket();
  spec.ram_layout = c.ram_layout();
  spec.btf_path = c.btf_path();
  return spec;
}

}  // namespace

absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> EnsureAttached(
    const dump::Attacher& attacher, FreezeTarget& target) {
  absl::MutexLock attach_lock(&target.attach_mu);
  std::shared_ptr<dump::KernelAttachment> current = CachedAttachment(target);
  if (current) {
    absl::Status valid = current->Revalidate();
    if (valid.ok()) return current;
    spdlog::warn("target {}: kernel changed ({}); attaching again", target.config.name(),
                 valid.ToString());
  }
  {
    // A failed target stays FAILED, with its error, while background retries run: listing it
    // must not flap between "attaching" and "failed" every retry.
    absl::MutexLock lock(&target.mu);
    if (target.state != kfreeze::v1::TARGET_STATE_FAILED) {
      target.state = kfreeze::v1::TARGET_STATE_ATTACHING;
    }
  }
  ElapsedTimer timer;
  absl::StatusOr<std::shared_ptr<dump::KernelAttachment>> attached =
      attacher(SpecOf(target.config));
  const uint64_t us = timer.Micros();
  absl::MutexLock lock(&target.mu);
  target.attach_us = us;
  if (!attached.ok()) {
    target.state = kfreeze::v1::TARGET_STATE_FAILED;
    target.attachment = nullptr;
    target.kernel_features.reset();
    target.sections.clear();
    target.last_error = attached.status().ToString();
    spdlog::error("target {}: attach failed after {}us: {}", target.config.name(), us,
                  target.last_error);
    return absl::FailedPreconditionError(absl::StrCat(
        "target ", target.config.name(), " is not attached: ", attached.status().message()));
  }
  target.attachment = *attached;
  target.state = kfreeze::v1::TARGET_STATE_ATTACHED;
  target.kernel_release = (*attached)->kernel_release();
  target.kernel_features = (*attached)->scx_features();
  target.sections = dump::PhaseNames((*attached)->phases());
  target.sections.emplace_back(dump::kRegistersSection);
  target.attached_at = Now();
  target.last_error.clear();
  spdlog::info("target {}: attached kernel {} in {}us ({} phases) {}", target.config.name(),
               target.kernel_release, us, (*attached)->phases().size(),
               (*attached)->AttachSummary());
  return *attached;
}

std::shared_ptr<dump::KernelAttachment> CachedAttachment(const FreezeTarget& target) {
  absl::MutexLock lock(&target.mu);
  return target.attachment;
}

}  // namespace kfreeze::server
