// Per-CPU time (include/linux/kernel_stat.h, kernel/time/tick-sched.h): the counters behind
// /proc/stat's cpuN lines, read from the per-CPU kernel_cpustat, kstat and tick_cpu_sched.
// cpustat indexes come from BTF's enum cpu_usage_stat, array lengths from the member types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::cpu_time {

inline constexpr int kNumCpustat = 8;  // USER..STEAL, the proto's fields in order

// Group "cpu_time".
struct CpuTimeOffsets {
  uint64_t cpustat = 0;                               // kernel_cpustat.cpustat
  std::array<uint32_t, kNumCpustat> cpustat_index{};  // CPUTIME_USER.. from BTF
  uint32_t cpustat_len = 0;
  uint64_t softirqs = 0;  // kernel_stat.softirqs (unsigned int[NR_SOFTIRQS])
  uint32_t nr_softirqs = 0;
  uint64_t irqs_sum = 0;
  std::optional<uint64_t> iowait_sleeptime;  // tick_sched.iowait_sleeptime (<= 7.1)
  std::optional<uint64_t> idle_sleeptime;    // tick_sched.idle_sleeptime (<= 7.1)
};

struct CpuTimeContext {
  std::optional<Kva> kernel_cpustat, kstat, tick_cpu_sched;  // per-CPU templates
  CpuTimeOffsets off;
  const PerCpuLayout* percpu = nullptr;
  absl::Status status;  // why the walker cannot run (OK when it can)
};

CpuTimeContext BuildCpuTimeContext(const KernelView& kernel);

// Fills per_cpu_time (one entry per possible CPU) or per_cpu_time_unavailable.
void CaptureCpuTime(Reader& reader, const CpuTimeContext& ctx,
                    kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::cpu_time
