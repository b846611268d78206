// Per-node NUMA statistics (include/linux/mmzone.h, mm/vmstat.c): what
// /sys/devices/system/node/nodeN/numastat prints. Each populated zone keeps folded counts in
// zone.vm_numa_event[] and not-yet-folded per-CPU deltas in zone.per_cpu_zonestats; the kernel
// folds before printing, so we add both. Unpopulated zones are skipped as the kernel does (they
// share the boot-time per-CPU stats).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::numa {

inline constexpr int kNumNumaItems = 6;  // NUMA_HIT..NUMA_OTHER, the proto's order
// MAX_NUMNODES on x86-64 is 1 << NODES_SHIFT (at most 10).
inline constexpr uint32_t kMaxNodes = 1024;

// Group "numa": pglist_data/zone layout and the enum numa_stat_item indexes.
struct NumaOffsets {
  uint64_t node_zones = 0;  // pglist_data.node_zones[]
  uint32_t nr_zones = 0;    // its length (MAX_NR_ZONES)
  uint64_t zone_size = 0;
  uint64_t present_pages = 0;                  // zone.present_pages
  uint64_t vm_numa_event = 0;                  // zone.vm_numa_event[] (atomic_long_t)
  uint64_t per_cpu_zonestats = 0;              // zone.per_cpu_zonestats (__percpu)
  uint64_t pcp_vm_numa_event = 0;              // per_cpu_zonestat.vm_numa_event[]
  std::array<uint32_t, kNumNumaItems> item{};  // NUMA_HIT.. from enum numa_stat_item
};

struct NumaContext {
  std::optional<Kva> node_data;  // struct pglist_data *node_data[MAX_NUMNODES]
  std::optional<Kva> nr_node_ids;
  NumaOffsets off;
  const PerCpuLayout* percpu = nullptr;
  absl::Status status;
};

NumaContext BuildNumaContext(const KernelView& kernel);

// Fills per_node_numa (one entry per node with memory) or per_node_numa_unavailable.
void CaptureNuma(Reader& reader, const NumaContext& ctx, kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::numa
