#include "core/walkers/numa/numa.h"

#include <memory>

#include "gtest/gtest.h"
#include "tests/walkers/support/fake_guest.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::walkers::numa {
namespace {

using kfreeze::testing::FakeGuest;
using kfreeze::testing::TestBtf;

constexpr uint32_t kZoneSize = 128, kPresent = 8, kEvents = 16, kPcp = 72;
constexpr uint32_t kPcpEvents = 16;

struct NumaWorld {
  explicit NumaWorld(uint32_t nodes) {
    btf.Enum("numa_stat_item", {{"NUMA_HIT", 0},
                                {"NUMA_MISS", 1},
                                {"NUMA_FOREIGN", 2},
                                {"NUMA_INTERLEAVE_HIT", 3},
                                {"NUMA_LOCAL", 4},
                                {"NUMA_OTHER", 5}});
    btf.Struct("zone", kZoneSize,
               {{"present_pages", "u64", kPresent},
                {"vm_numa_event", "u64[6]", kEvents},
                {"per_cpu_zonestats", "ptr", kPcp}});
    btf.Struct("per_cpu_zonestat", 64,
               {{"vm_stat_diff", "u8[12]", 0}, {"vm_numa_event", "u64[6]", kPcpEvents}});
    btf.Struct("pglist_data", 1024, {{"node_zones", "zone[3]", 64}});
    resolver = btf.MakeResolver();
    tmpl = g.Alloc(4096, 4096);
    std::vector<uint64_t> offsets;
    for (int cpu = 0; cpu < 2; ++cpu) {
      units.push_back(g.Alloc(4096, 4096));
      offsets.push_back(units.back() - tmpl);
    }
    percpu = std::make_unique<PerCpuLayout>(2, offsets);
    node_data = g.Alloc(8 * 4);
    for (uint32_t n = 0; n < nodes; ++n) {
      pgdats.push_back(g.Alloc(1024));
      g.PutPtr(node_data + n * 8, pgdats.back());
    }
    nr_node_ids = g.Alloc(4);
    g.Put<uint32_t>(nr_node_ids, nodes);
    symbols = std::make_unique<SymbolIndex>(std::vector<SymbolIndex::Entry>{
        {"node_data", node_data.value, 'D'}, {"nr_node_ids", nr_node_ids.value, 'D'}});
  }
  Kva Zone(uint32_t node, uint32_t z) { return pgdats[node] + 64 + z * kZoneSize; }
  // A populated zone with folded counts and per-CPU deltas in the per-CPU units at `slot`.
  void Populate(uint32_t node, uint32_t z, uint64_t folded_hit, uint64_t pcp_hit, uint32_t slot) {
    Kva zone = Zone(node, z);
    g.Put<uint64_t>(zone + kPresent, 1000);
    g.Put<uint64_t>(zone + kEvents, folded_hit);
    g.Put<uint64_t>(zone + kEvents + 4 * 8, folded_hit / 2);  // NUMA_LOCAL
    g.PutPtr(zone + kPcp, tmpl + slot * 64);
    for (Kva u : units) g.Put<uint64_t>(u + slot * 64 + kPcpEvents, pcp_hit);
  }
  KernelView view() { return {*resolver, *symbols, *percpu}; }

  FakeGuest g;
  TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  // Built in place: SymbolIndex keeps views into its own name storage.
  std::unique_ptr<SymbolIndex> symbols;
  std::unique_ptr<PerCpuLayout> percpu;
  Kva tmpl, node_data, nr_node_ids;
  std::vector<Kva> units, pgdats;
};

TEST(Numa, FoldedPlusPerCpuOverPopulatedZones) {
  NumaWorld w(2);
  w.Populate(0, 1, 5000, 7, 0);
  w.Populate(0, 2, 100, 1, 1);
  // Zone 0 of node 0 is unpopulated but shares "boot" per-CPU stats with junk: never counted.
  w.g.PutPtr(w.Zone(0, 0) + kPcp, w.tmpl + 0);
  w.g.Put<uint64_t>(w.Zone(0, 0) + kEvents, 999999);
  w.Populate(1, 2, 42, 0, 2);
  Reader r = w.g.MakeReader();
  NumaContext ctx = BuildNumaContext(w.view());
  ASSERT_TRUE(ctx.status.ok()) << ctx.status;
  kfreeze::v1::FailureDumpReport report;
  CaptureNuma(r, ctx, report);
  EXPECT_FALSE(report.has_per_node_numa_unavailable()) << report.per_node_numa_unavailable();
  ASSERT_EQ(report.per_node_numa_size(), 2);
  EXPECT_EQ(report.per_node_numa(0).numa_hit(), 5000u + 2 * 7 + 100u + 2 * 1);
  EXPECT_EQ(report.per_node_numa(0).numa_local(), 2500u + 50u);
  EXPECT_EQ(report.per_node_numa(1).node(), 1u);
  EXPECT_EQ(report.per_node_numa(1).numa_hit(), 42u);
}

TEST(Numa, NoNodeDataMeansNoNumaKernel) {
  NumaWorld w(1);
  w.symbols = std::make_unique<SymbolIndex>(std::vector<SymbolIndex::Entry>{});
  NumaContext ctx = BuildNumaContext(w.view());
  Reader r = w.g.MakeReader();
  kfreeze::v1::FailureDumpReport report;
  CaptureNuma(r, ctx, report);
  EXPECT_EQ(report.per_node_numa_size(), 0);
  EXPECT_NE(report.per_node_numa_unavailable().find("CONFIG_NUMA"), std::string::npos);
}

TEST(Numa, UnreadablePerCpuStatsDropsTheNodeAndSaysSo) {
  NumaWorld w(1);
  w.Populate(0, 0, 10, 1, 0);
  w.g.PutPtr(w.Zone(0, 0) + kPcp, FakeGuest::Unmapped());
  NumaContext ctx = BuildNumaContext(w.view());
  Reader r = w.g.MakeReader();
  kfreeze::v1::FailureDumpReport report;
  CaptureNuma(r, ctx, report);
  EXPECT_EQ(report.per_node_numa_size(), 0);
  EXPECT_NE(report.per_node_numa_unavailable().find("NUMA partial: node 0 zone 0 cpu 0"),
            std::string::npos)
      << report.per_node_numa_unavailable();
}

}  // namespace
}  // namespace kfreeze::walkers::numa
