#include "core/walkers/scx/event_counters.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze::walkers::scx {
absl::StatusOr<kfreeze::v1::EventCounterSample> SumEventCounters(Reader& reader,
                                                                 const ScxContext& ctx,
                                                                 const SchedLocation& sched) {
  if (!ctx.off.event_stats || ctx.percpu == nullptr) {
    return absl::FailedPreconditionError("missing offset groups for event counters");
  }
  if (!sched.event_stats) {
    return absl::FailedPreconditionError("this kernel keeps no per-CPU event stats");
  }
  KF_ASSIGN_OR_RETURN(Kva tmpl, PerCpuTemplate(reader, *sched.event_stats));
  const EventStatsOffsets& eo = *ctx.off.event_stats;
  uint64_t span = 0;
  for (const EventCounterOffset& c : eo.counters) span = std::max(span, c.offset + 8);
  std::vector<int64_t> sum(eo.counters.size(), 0);
  int cpus_read = 0;
  for (CpuId cpu : ctx.percpu->PossibleCpus()) {
    absl::StatusOr<Kva> at = ctx.percpu->PerCpuPtr(tmpl, cpu);
    absl::StatusOr<std::vector<uint8_t>> bytes =
        at.ok() ? reader.ReadBytes(*at, span) : absl::StatusOr<std::vector<uint8_t>>(at.status());
    // A sum missing a CPU would understate every counter: fail instead.
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("CPU ", cpu, " event stats: ", bytes.status().message()));
    }
    ++cpus_read;
    for (size_t i = 0; i < eo.counters.size(); ++i) {
      int64_t v;
      std::memcpy(&v, bytes->data() + eo.counters[i].offset, 8);
      sum[i] = SaturatingAdd(sum[i], v);
    }
  }
  if (cpus_read == 0) return BadData("no possible CPU");
  kfreeze::v1::EventCounterSample out;
  const google::protobuf::Reflection* refl = out.GetReflection();
  for (size_t i = 0; i < eo.counters.size(); ++i) {
    refl->SetInt64(&out, eo.counters[i].field, sum[i]);
  }
  return out;
}

}  // namespace kfreeze::walkers::scx
