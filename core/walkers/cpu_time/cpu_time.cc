#include "core/walkers/cpu_time/cpu_time.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/reasons.h"
#include "core/base/status.h"

namespace kfreeze::walkers::cpu_time {
namespace {

constexpr const char* kCpustatEnumerators[kNumCpustat] = {
    "CPUTIME_USER", "CPUTIME_NICE", "CPUTIME_SYSTEM", "CPUTIME_SOFTIRQ",
    "CPUTIME_IRQ",  "CPUTIME_IDLE", "CPUTIME_IOWAIT", "CPUTIME_STEAL"};
// PerCpuTimeStats.softirqs has HI..RCU: at most this many are kept.
constexpr uint32_t kMaxSoftirqs = 16;

}  // namespace

CpuTimeContext BuildCpuTimeContext(const KernelView& kernel) {
  CpuTimeContext ctx;
  ctx.percpu = &kernel.percpu;
  ctx.kernel_cpustat = kernel.symbols.Address("kernel_cpustat");
  ctx.kstat = kernel.symbols.Address("kstat");
  ctx.tick_cpu_sched = kernel.symbols.Address("tick_cpu_sched");
  const Group<CpuTimeOffsets> off =
      ResolveGroup<CpuTimeOffsets>(kernel.btf, "cpu_time", [](OffsetGroup& g, CpuTimeOffsets& o) {
        MemberLocation cpustat = g.Member("kernel_cpustat.cpustat");
        o.cpustat = cpustat.ByteOffset();
        o.cpustat_len = cpustat.array_len.value_or(0);
        for (int i = 0; i < kNumCpustat; ++i) {
          o.cpustat_index[i] = static_cast<uint32_t>(g.EnumValue(kCpustatEnumerators[i]));
        }
        MemberLocation softirqs = g.Member("kernel_stat.softirqs");
        o.softirqs = softirqs.ByteOffset();
        o.nr_softirqs = std::min(softirqs.array_len.value_or(0), kMaxSoftirqs);
        o.irqs_sum = g.Offset("kernel_stat.irqs_sum");
        o.iowait_sleeptime = g.OptionalOffset("tick_sched.iowait_sleeptime");
        o.idle_sleeptime = g.OptionalOffset("tick_sched.idle_sleeptime");
      });
  ctx.off = *off;
  std::vector<std::string> missing;
  if (!off.ok()) missing.push_back(std::string(off.status.message()));
  if (!ctx.kernel_cpustat) missing.push_back("no kernel_cpustat symbol");
  if (!ctx.kstat) missing.push_back("no kstat symbol");
  for (uint32_t idx : off->cpustat_index) {
    if (off.ok() && idx >= off->cpustat_len) {
      missing.push_back(absl::StrCat("cpustat index ", idx, " >= array length ", off->cpustat_len));
      break;
    }
  }
  if (!missing.empty()) ctx.status = absl::NotFoundError(absl::StrJoin(missing, "; "));
  return ctx;
}

void CaptureCpuTime(Reader& reader, const CpuTimeContext& ctx,
                    kfreeze::v1::FailureDumpReport& report) {
  if (!ctx.status.ok()) {
    report.set_per_cpu_time_unavailable(absl::StrCat(kReasonCpuTimePrefix, ctx.status.message()));
    return;
  }
  std::vector<std::string> problems;
  for (CpuId cpu : ctx.percpu->PossibleCpus()) {
    absl::StatusOr<Kva> cs = ctx.percpu->PerCpuPtr(*ctx.kernel_cpustat, cpu);
    absl::StatusOr<Kva> ks = ctx.percpu->PerCpuPtr(*ctx.kstat, cpu);
    if (!cs.ok() || !ks.ok()) continue;
    std::vector<uint64_t> cpustat(ctx.off.cpustat_len);
    absl::Status s = reader.ReadVirt(
        *cs + ctx.off.cpustat,
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(cpustat.data()), cpustat.size() * 8));
    std::vector<uint32_t> softirqs(ctx.off.nr_softirqs);
    if (s.ok()) {
      s = reader.ReadVirt(
          *ks + ctx.off.softirqs,
          std::span<uint8_t>(reinterpret_cast<uint8_t*>(softirqs.data()), softirqs.size() * 4));
    }
    absl::StatusOr<uint64_t> irqs =
        s.ok() ? reader.ReadU64(*ks + ctx.off.irqs_sum) : absl::StatusOr<uint64_t>(s);
    if (!irqs.ok()) {
      problems.push_back(absl::StrCat("cpu ", cpu, ": ", irqs.status().message()));
      continue;
    }
    kfreeze::v1::PerCpuTimeStats* out = report.add_per_cpu_time();
    out->set_cpu(cpu);
    const auto& ix = ctx.off.cpustat_index;
    out->set_cpustat_user_ns(cpustat[ix[0]]);
    out->set_cpustat_nice_ns(cpustat[ix[1]]);
    out->set_cpustat_system_ns(cpustat[ix[2]]);
    out->set_cpustat_softirq_ns(cpustat[ix[3]]);
    out->set_cpustat_irq_ns(cpustat[ix[4]]);
    out->set_cpustat_idle_ns(cpustat[ix[5]]);
    out->set_cpustat_iowait_ns(cpustat[ix[6]]);
    out->set_cpustat_steal_ns(cpustat[ix[7]]);
    for (uint32_t v : softirqs) out->add_softirqs(v);
    out->set_irqs_sum(*irqs);
    if (ctx.tick_cpu_sched) {
      if (absl::StatusOr<Kva> ts = ctx.percpu->PerCpuPtr(*ctx.tick_cpu_sched, cpu); ts.ok()) {
        if (ctx.off.iowait_sleeptime) {
          if (auto v = reader.ReadU64(*ts + *ctx.off.iowait_sleeptime); v.ok()) {
            out->set_iowait_sleeptime_ns(*v);
          }
        }
        if (ctx.off.idle_sleeptime) {
          if (auto v = reader.ReadU64(*ts + *ctx.off.idle_sleeptime); v.ok()) {
            out->set_idle_sleeptime_ns(*v);
          }
        }
      }
    }
  }
  if (!problems.empty()) {
    report.set_per_cpu_time_unavailable(
        absl::StrCat(kReasonCpuTimePartialPrefix, absl::StrJoin(problems, "; ")));
  }
}

}  // namespace kfreeze::walkers::cpu_time
