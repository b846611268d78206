// A miniature NUMA kernel for the NUMA walker's tests and the guest-memory fuzzer: node_data with
// pglist_data/zone/per_cpu_zonestat BTF at this fixture's own offsets, two CPUs' per-CPU units.
#pragma once

#include <cstdint>
#include <vector>

#include "tests/walkers/support/kernel_world.h"

namespace kfreeze::testing::numa_fixture {

constexpr uint32_t kZoneSize = 128, kPresent = 8, kEvents = 16, kPcp = 72;
constexpr uint32_t kPcpEvents = 16;

struct NumaWorld : KernelWorld {
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
    node_data = g.Alloc(8 * 4);
    for (uint32_t n = 0; n < nodes; ++n) {
      pgdats.push_back(g.Alloc(1024));
      g.PutPtr(node_data + n * 8, pgdats.back());
    }
    nr_node_ids = g.Alloc(4);
    g.Put<uint32_t>(nr_node_ids, nodes);
    Finish({{"node_data", node_data.value, 'D'}, {"nr_node_ids", nr_node_ids.value, 'D'}});
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

  Kva node_data, nr_node_ids;
  std::vector<Kva> pgdats;
};

}  // namespace kfreeze::testing::numa_fixture
