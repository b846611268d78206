// What a reloaded config file does to the targets: only config targets are removed or replaced,
// an unchanged one is left alone, and a name another source holds is not taken over.
#include "server/daemon/config_reload.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfreeze::server {
namespace {

using ::testing::ElementsAre;

kfreeze::v1::TargetConfig Config(const std::string& name, const std::string& ram) {
  kfreeze::v1::TargetConfig c;
  c.set_name(name);
  c.set_ram_path(ram);
  return c;
}

std::shared_ptr<FreezeTarget> Registered(const std::string& name, const std::string& ram,
                                         const std::string& source) {
  return std::make_shared<FreezeTarget>(Config(name, ram), source);
}

std::vector<std::string> Names(const std::vector<kfreeze::v1::TargetConfig>& configs) {
  std::vector<std::string> out;
  for (const auto& c : configs) out.push_back(c.name());
  return out;
}

TEST(ConfigReload, RemovesAddsAndReplacesOnlyConfigTargets) {
  std::vector<std::shared_ptr<FreezeTarget>> current = {
      Registered("gone", "/a", "config"), Registered("same", "/b", "config"),
      Registered("changed", "/c", "config"), Registered("taken", "/d", "rpc"),
      Registered("flagged", "/e", "flag")};
  ConfigReloadPlan plan = PlanConfigReload(current, {Config("same", "/b"), Config("changed", "/c2"),
                                                     Config("taken", "/d2"), Config("new", "/f")});
  EXPECT_THAT(plan.remove, ElementsAre("gone"));
  EXPECT_THAT(Names(plan.add), ElementsAre("changed", "new"));
  ASSERT_EQ(plan.ignored.size(), 1u);
  EXPECT_EQ(plan.ignored[0]->config.name(), "taken");
}

TEST(ConfigReload, AnEmptyFileRemovesEveryConfigTargetAndNothingElse) {
  std::vector<std::shared_ptr<FreezeTarget>> current = {Registered("a", "/a", "config"),
                                                        Registered("b", "/b", "rpc")};
  ConfigReloadPlan plan = PlanConfigReload(current, {});
  EXPECT_THAT(plan.remove, ElementsAre("a"));
  EXPECT_TRUE(plan.add.empty());
  EXPECT_TRUE(plan.ignored.empty());
}

}  // namespace
}  // namespace kfreeze::server
