#include "server/daemon/freeze_options.h"

namespace kfreeze::server {

FreezeDefaults DefaultsFromConfig(const kfreeze::v1::FreezeDefaults& c) {
  FreezeDefaults d;
  if (c.deadline_ms()) d.soft_deadline = std::chrono::milliseconds(c.deadline_ms());
  if (c.hard_deadline_grace_ms())
    d.hard_grace = std::chrono::milliseconds(c.hard_deadline_grace_ms());
  if (c.qmp_timeout_ms()) d.control_timeout = std::chrono::milliseconds(c.qmp_timeout_ms());
  if (c.regs_timeout_ms()) d.regs_timeout = std::chrono::milliseconds(c.regs_timeout_ms());
  if (c.decode_deadline_ms()) d.decode_deadline = std::chrono::milliseconds(c.decode_deadline_ms());
  return d;
}

dump::FreezeOptions ResolveFreezeOptions(const FreezeDefaults& defaults,
                                         const kfreeze::v1::TargetConfig& target,
                                         const kfreeze::v1::FreezeRequest& request) {
  dump::FreezeOptions options;
  options.soft_deadline = defaults.soft_deadline;
  if (target.deadline_ms()) options.soft_deadline = std::chrono::milliseconds(target.deadline_ms());
  if (request.deadline_ms())
    options.soft_deadline = std::chrono::milliseconds(request.deadline_ms());
  options.hard_grace = defaults.hard_grace;
  options.control_timeout = defaults.control_timeout;
  options.regs_timeout = defaults.regs_timeout;
  options.decode_deadline = defaults.decode_deadline;
  if (request.decode_deadline_ms()) {
    options.decode_deadline = std::chrono::milliseconds(request.decode_deadline_ms());
  }
  if (request.has_max_map_entries()) options.max_map_entries = request.max_map_entries();
  options.keep_paused = request.keep_paused();
  options.sections.assign(request.sections().begin(), request.sections().end());
  return options;
}

}  // namespace kfreeze::server
