#include "server/daemon/config_reload.h"

#include <algorithm>

#include "server/daemon/config.h"

namespace kfreeze::server {

ConfigReloadPlan PlanConfigReload(const std::vector<std::shared_ptr<FreezeTarget>>& current,
                                  const std::vector<kfreeze::v1::TargetConfig>& wanted) {
  ConfigReloadPlan plan;
  for (const auto& t : current) {
    if (t->source != "config") continue;
    bool kept = std::any_of(wanted.begin(), wanted.end(),
                            [&](const auto& c) { return c.name() == t->config.name(); });
    if (!kept) plan.remove.push_back(t->config.name());
  }
  for (const auto& config : wanted) {
    auto existing = std::find_if(current.begin(), current.end(),
                                 [&](const auto& t) { return t->config.name() == config.name(); });
    if (existing != current.end()) {
      if ((*existing)->source != "config") {
        plan.ignored.push_back(*existing);
        continue;
      }
      if (SameTargetConfig((*existing)->config, config)) continue;
    }
    plan.add.push_back(config);
  }
  return plan;
}

}  // namespace kfreeze::server
