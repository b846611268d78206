#include "core/walkers/numa/numa.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/walkers/support/numa_world.h"

namespace kfreeze::walkers::numa {
namespace {

using kfreeze::testing::FakeGuest;

using namespace kfreeze::testing::numa_fixture;

TEST(Numa, FoldedPlusPerCpuOverPopulatedZones) {
  NumaWorld w(2);
  w.Populate(0, 1, 5000, 7, 0);
  w.Populate(0, 2, 100, 1, 1);
  // Zone 0 of node 0 is unpopulated but shares "boot" per-CPU stats with junk: never counted.
  w.g.PutPtr(w.Zone(0, 0) + kPcp, w.tmpl + 0);
  w.g.Put<uint64_t>(w.Zone(0, 0) + kEvents, 999999);
  w.Populate(1, 2, 42, 0, 2);
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildNumaContext, CaptureNuma);
  // A context that did not build says why here.
  ASSERT_FALSE(report.has_per_node_numa_unavailable()) << report.per_node_numa_unavailable();
  ASSERT_EQ(report.per_node_numa_size(), 2);
  EXPECT_EQ(report.per_node_numa(0).numa_hit(), 5000u + 2 * 7 + 100u + 2 * 1);
  EXPECT_EQ(report.per_node_numa(0).numa_local(), 2500u + 50u);
  EXPECT_EQ(report.per_node_numa(1).node(), 1u);
  EXPECT_EQ(report.per_node_numa(1).numa_hit(), 42u);
}

TEST(Numa, NoNodeDataMeansNoNumaKernel) {
  NumaWorld w(1);
  w.symbols = std::make_unique<SymbolIndex>(std::vector<SymbolIndex::Entry>{});
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildNumaContext, CaptureNuma);
  EXPECT_EQ(report.per_node_numa_size(), 0);
  EXPECT_NE(report.per_node_numa_unavailable().find("CONFIG_NUMA"), std::string::npos);
}

TEST(Numa, UnreadablePerCpuStatsDropsTheNodeAndSaysSo) {
  NumaWorld w(1);
  w.Populate(0, 0, 10, 1, 0);
  w.g.PutPtr(w.Zone(0, 0) + kPcp, FakeGuest::Unmapped());
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildNumaContext, CaptureNuma);
  EXPECT_EQ(report.per_node_numa_size(), 0);
  EXPECT_NE(report.per_node_numa_unavailable().find("NUMA partial: node 0 zone 0 cpu 0"),
            std::string::npos)
      << report.per_node_numa_unavailable();
}

}  // namespace
}  // namespace kfreeze::walkers::numa
