#include "server/daemon/freeze_target.h"

#include <utility>

#include "server/daemon/event_sampler.h"
#include "server/daemon/trigger_runner.h"

namespace kfreeze::server {

FreezeTarget::FreezeTarget(kfreeze::v1::TargetConfig c, std::string s)
    : config(std::move(c)), source(std::move(s)) {}

FreezeTarget::~FreezeTarget() { StopRunners(*this); }

kfreeze::v1::Target DescribeTarget(const FreezeTarget& t) {
  kfreeze::v1::Target out;
  out.set_name(t.config.name());
  *out.mutable_config() = t.config;
  out.set_source(t.source);
  absl::MutexLock lock(&t.mu);
  out.set_state(t.state);
  out.set_kernel_release(t.kernel_release);
  out.set_last_error(t.last_error);
  if (t.attached_at.seconds() != 0) *out.mutable_attached_at() = t.attached_at;
  out.set_last_dump_id(t.last_dump_id);
  out.set_dumps_taken(t.dumps_taken);
  out.set_attach_duration_us(t.attach_us);
  if (t.kernel_features) *out.mutable_kernel_features() = *t.kernel_features;
  for (const std::string& s : t.sections) out.add_sections(s);
  return out;
}

void StopRunners(FreezeTarget& target) {
  std::unique_ptr<TriggerRunner> runner;
  std::unique_ptr<EventSampler> sampler;
  {
    absl::MutexLock lock(&target.mu);
    runner = std::move(target.triggers);
    sampler = std::move(target.sampler);
  }
  // Outside the lock: the runner may be capturing this target.
  if (runner) runner->Stop();
  if (sampler) sampler->Stop();
}

}  // namespace kfreeze::server
