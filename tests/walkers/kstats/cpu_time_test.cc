#include "core/walkers/cpu_time/cpu_time.h"

#include "gtest/gtest.h"
#include "tests/walkers/support/kernel_world.h"

namespace kfreeze::walkers::cpu_time {
namespace {

// Enum values deliberately shuffled against the proto's order: the walker must map by name.
struct CpuTimeWorld : kfreeze::testing::KernelWorld {
  explicit CpuTimeWorld(bool with_iowait = true, bool drop_softirqs = false) {
    btf.Enum("cpu_usage_stat", {{"CPUTIME_USER", 3},
                                {"CPUTIME_NICE", 1},
                                {"CPUTIME_SYSTEM", 2},
                                {"CPUTIME_SOFTIRQ", 0},
                                {"CPUTIME_IRQ", 4},
                                {"CPUTIME_IDLE", 5},
                                {"CPUTIME_IOWAIT", 6},
                                {"CPUTIME_STEAL", 9},
                                {"NR_STATS", 10}});
    btf.Struct("kernel_cpustat", 128, {{"idle_dyntick", "bool", 0}, {"cpustat", "u64[10]", 40}});
    if (drop_softirqs) {
      btf.Struct("kernel_stat", 64, {{"irqs_sum", "u64", 0}});
    } else {
      btf.Struct("kernel_stat", 64, {{"irqs_sum", "u64", 0}, {"softirqs", "u32[10]", 8}});
    }
    if (with_iowait) {
      btf.Struct("tick_sched", 64, {{"idle_sleeptime", "u64", 8}, {"iowait_sleeptime", "u64", 16}});
    }
    Finish({{"kernel_cpustat", tmpl.value + 0, 'D'},
            {"kstat", tmpl.value + 512, 'D'},
            {"tick_cpu_sched", tmpl.value + 1024, 'd'}});
  }
};

TEST(CpuTime, ReadsEveryCpuByEnumIndex) {
  CpuTimeWorld w;
  for (int cpu = 0; cpu < 2; ++cpu) {
    Kva cs = w.units[cpu] + 40;
    w.g.Put<uint64_t>(cs + 3 * 8, 1000 + cpu);                    // USER at index 3
    w.g.Put<uint64_t>(cs + 0 * 8, 7);                             // SOFTIRQ at index 0
    w.g.Put<uint64_t>(cs + 9 * 8, 99);                            // STEAL at index 9
    w.g.Put<uint64_t>(w.units[cpu] + 512, 555);                   // irqs_sum
    w.g.Put<uint32_t>(w.units[cpu] + 512 + 8 + 4 * 1, 31 + cpu);  // TIMER softirqs
    w.g.Put<uint64_t>(w.units[cpu] + 1024 + 16, 4242);
    w.g.Put<uint64_t>(w.units[cpu] + 1024 + 8, 777000 + cpu);
  }
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildCpuTimeContext, CaptureCpuTime);
  // A context that did not build says why here.
  ASSERT_FALSE(report.has_per_cpu_time_unavailable()) << report.per_cpu_time_unavailable();
  ASSERT_EQ(report.per_cpu_time_size(), 2);
  const auto& c1 = report.per_cpu_time(1);
  EXPECT_EQ(c1.cpu(), 1u);
  EXPECT_EQ(c1.cpustat_user_ns(), 1001u);
  EXPECT_EQ(c1.cpustat_softirq_ns(), 7u);
  EXPECT_EQ(c1.cpustat_steal_ns(), 99u);
  EXPECT_EQ(c1.cpustat_nice_ns(), 0u);
  ASSERT_EQ(c1.softirqs_size(), 10);
  EXPECT_EQ(c1.softirqs(1), 32u);
  EXPECT_EQ(c1.irqs_sum(), 555u);
  EXPECT_EQ(c1.iowait_sleeptime_ns(), 4242u);
  EXPECT_EQ(c1.idle_sleeptime_ns(), 777001u);
}

TEST(CpuTime, IowaitIsOptional) {
  CpuTimeWorld w(/*with_iowait=*/false);
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildCpuTimeContext, CaptureCpuTime);
  ASSERT_EQ(report.per_cpu_time_size(), 2);
  EXPECT_FALSE(report.per_cpu_time(0).has_iowait_sleeptime_ns());
  EXPECT_FALSE(report.per_cpu_time(0).has_idle_sleeptime_ns());  // 7.2+: kcpustat only
}

TEST(CpuTime, MissingMemberNamesItself) {
  CpuTimeWorld w(true, /*drop_softirqs=*/true);
  kfreeze::v1::FailureDumpReport report = w.Capture(BuildCpuTimeContext, CaptureCpuTime);
  EXPECT_EQ(report.per_cpu_time_size(), 0);
  EXPECT_NE(report.per_cpu_time_unavailable().find("softirqs"), std::string::npos)
      << report.per_cpu_time_unavailable();
}

}  // namespace
}  // namespace kfreeze::walkers::cpu_time
