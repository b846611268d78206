// SIGHUP: which targets a reloaded config file removes, adds or replaces. Only targets that came
// from the config file are touched; a name taken by a flag or RPC target keeps that target.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kfreeze/v1/config.pb.h"
#include "server/daemon/freeze_target.h"

namespace kfreeze::server {

struct ConfigReloadPlan {
  std::vector<std::string> remove;                     // config targets the file no longer lists
  std::vector<kfreeze::v1::TargetConfig> add;          // new or changed: added with replace
  std::vector<std::shared_ptr<FreezeTarget>> ignored;  // entries whose name another source holds
};

ConfigReloadPlan PlanConfigReload(const std::vector<std::shared_ptr<FreezeTarget>>& current,
                                  const std::vector<kfreeze::v1::TargetConfig>& wanted);

}  // namespace kfreeze::server
