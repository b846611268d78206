#include "core/walkers/scx/event_counters.h"

#include <array>
#include <cstring>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/base/checked.h"
#include "core/base/status.h"

namespace kfreeze::walkers::scx {
namespace {

// Index order is kEventCounterNames'. Plain calls: a table of member pointers trips GCC's
// maybe-uninitialized false positive under -fsanitize.
void SetCounters(kfreeze::v1::EventCounterSample& s,
                 const std::array<int64_t, kNumEventCounters>& v) {
  static_assert(kNumEventCounters == 13);
  s.set_select_cpu_fallback(v[0]);
  s.set_dispatch_local_dsq_offline(v[1]);
  s.set_dispatch_keep_last(v[2]);
  s.set_enq_skip_exiting(v[3]);
  s.set_enq_skip_migration_disabled(v[4]);
  s.set_reenq_immed(v[5]);
  s.set_reenq_local_repeat(v[6]);
  s.set_refill_slice_dfl(v[7]);
  s.set_bypass_duration(v[8]);
  s.set_bypass_dispatch(v[9]);
  s.set_bypass_activate(v[10]);
  s.set_insert_not_owned(v[11]);
  s.set_sub_bypass_dispatch(v[12]);
}

}  // namespace

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
  for (const auto& c : eo.counter) {
    if (c) span = std::max(span, *c + 8);
  }
  std::array<int64_t, kNumEventCounters> sum{};
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
    for (int i = 0; i < kNumEventCounters; ++i) {
      if (!eo.counter[i]) continue;
      int64_t v;
      std::memcpy(&v, bytes->data() + *eo.counter[i], 8);
      sum[i] = SaturatingAdd(sum[i], v);
    }
  }
  if (cpus_read == 0) return BadData("no possible CPU");
  kfreeze::v1::EventCounterSample out;
  SetCounters(out, sum);
  return out;
}

}  // namespace kfreeze::walkers::scx
