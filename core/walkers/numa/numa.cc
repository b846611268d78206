#include "core/walkers/numa/numa.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/checked.h"
#include "core/base/reasons.h"
#include "core/base/status.h"

namespace kfreeze::walkers::numa {
namespace {

constexpr const char* kItems[kNumNumaItems] = {
    "NUMA_HIT", "NUMA_MISS", "NUMA_FOREIGN", "NUMA_INTERLEAVE_HIT", "NUMA_LOCAL", "NUMA_OTHER"};

}  // namespace

NumaContext BuildNumaContext(const KernelView& kernel) {
  NumaContext ctx;
  ctx.percpu = &kernel.percpu;
  ctx.node_data = kernel.symbols.Address("node_data");
  ctx.nr_node_ids = kernel.symbols.Address("nr_node_ids");
  const Group<NumaOffsets> off =
      ResolveGroup<NumaOffsets>(kernel.btf, "numa", [](OffsetGroup& g, NumaOffsets& o) {
        MemberLocation zones = g.Member("pglist_data.node_zones");
        o.node_zones = zones.ByteOffset();
        o.nr_zones = zones.array_len.value_or(0);
        o.zone_size = g.SizeOf("zone");
        o.present_pages = g.Offset("zone.present_pages");
        o.vm_numa_event = g.Offset("zone.vm_numa_event");
        o.per_cpu_zonestats = g.Offset("zone.per_cpu_zonestats");
        o.pcp_vm_numa_event = g.Offset("per_cpu_zonestat.vm_numa_event");
        for (int i = 0; i < kNumNumaItems; ++i) {
          o.item[i] = static_cast<uint32_t>(g.EnumValue(kItems[i]));
        }
      });
  ctx.off = *off;
  if (!ctx.node_data) {
    ctx.status = absl::FailedPreconditionError(std::string(kReasonNoNuma));
  } else if (!off.ok()) {
    ctx.status = off.status;
  }
  return ctx;
}

void CaptureNuma(Reader& reader, const NumaContext& ctx, kfreeze::v1::FailureDumpReport& report) {
  if (!ctx.status.ok()) {
    report.set_per_node_numa_unavailable(std::string(ctx.status.message()));
    return;
  }
  uint32_t nodes = 1;
  if (ctx.nr_node_ids) {
    absl::StatusOr<uint32_t> n = reader.ReadU32(*ctx.nr_node_ids);
    if (!n.ok() || *n == 0 || *n > kMaxNodes) {
      report.set_per_node_numa_unavailable(
          absl::StrCat(kReasonNumaNodeCountPrefix,
                       n.ok() ? std::to_string(*n) : std::string(n.status().message())));
      return;
    }
    nodes = *n;
  }
  std::vector<std::string> problems;
  for (uint32_t node = 0; node < nodes; ++node) {
    absl::StatusOr<Kva> pgdat = reader.ReadPtr(*ctx.node_data + uint64_t{node} * 8);
    if (!pgdat.ok()) {
      problems.push_back(absl::StrCat("node ", node, ": ", pgdat.status().message()));
      continue;
    }
    if (pgdat->IsNull()) continue;  // possible but offline node
    std::array<uint64_t, kNumNumaItems> sum{};
    bool ok = true;
    for (uint32_t z = 0; z < ctx.off.nr_zones && ok; ++z) {
      const Kva zone = *pgdat + ctx.off.node_zones + z * ctx.off.zone_size;
      absl::StatusOr<uint64_t> present = reader.ReadU64(zone + ctx.off.present_pages);
      if (!present.ok()) {
        problems.push_back(
            absl::StrCat("node ", node, " zone ", z, ": ", present.status().message()));
        ok = false;
        break;
      }
      if (*present == 0) continue;
      std::array<uint64_t, kNumNumaItems> folded{};
      for (int i = 0; i < kNumNumaItems && ok; ++i) {
        absl::StatusOr<uint64_t> v =
            reader.ReadU64(zone + ctx.off.vm_numa_event + ctx.off.item[i] * 8ull);
        if (!v.ok())
          ok = false;
        else
          folded[i] = *v;
      }
      absl::StatusOr<Kva> pcp = reader.ReadPtr(zone + ctx.off.per_cpu_zonestats);
      if (!ok || !pcp.ok() || pcp->IsNull()) {
        problems.push_back(absl::StrCat("node ", node, " zone ", z, ": counters unreadable"));
        ok = false;
        break;
      }
      for (int i = 0; i < kNumNumaItems; ++i) sum[i] = SaturatingAdd(sum[i], folded[i]);
      for (CpuId cpu : ctx.percpu->PossibleCpus()) {
        absl::StatusOr<Kva> at = ctx.percpu->PerCpuPtr(*pcp, cpu);
        if (!at.ok()) continue;
        for (int i = 0; i < kNumNumaItems; ++i) {
          absl::StatusOr<uint64_t> v =
              reader.ReadU64(*at + ctx.off.pcp_vm_numa_event + ctx.off.item[i] * 8ull);
          if (!v.ok()) {
            problems.push_back(
                absl::StrCat("node ", node, " zone ", z, " cpu ", cpu, ": ", v.status().message()));
            ok = false;
            break;
          }
          sum[i] = SaturatingAdd(sum[i], *v);
        }
        if (!ok) break;
      }
    }
    if (!ok) continue;  // a partial sum would understate the node
    kfreeze::v1::PerNodeNumaStats* out = report.add_per_node_numa();
    out->set_node(node);
    out->set_numa_hit(sum[0]);
    out->set_numa_miss(sum[1]);
    out->set_numa_foreign(sum[2]);
    out->set_numa_interleave_hit(sum[3]);
    out->set_numa_local(sum[4]);
    out->set_numa_other(sum[5]);
  }
  if (!problems.empty()) {
    report.set_per_node_numa_unavailable(
        absl::StrCat(kReasonNumaPartialPrefix, absl::StrJoin(problems, "; ")));
  }
}

}  // namespace kfreeze::walkers::numa
