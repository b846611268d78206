// `report show --style kernel`: a report built from the kernel's own sched_ext dump
// (/work/shared/reference/kernel-scx-dump-sample.txt, a watchdog stall on a 2-vCPU 7.2 guest)
// must print that dump's lines back, in its order.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/report/render_kernel_style.h"
#include "core/report/render_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/report/expect_in_order.h"

namespace kfreeze::report {
namespace {

using ::kfreeze::testing::ExpectInOrder;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace kfreeze::v1;

constexpr uint64_t kKworkerKva = 0xffff888003a80000ull;
constexpr uint64_t kBpftoolKva = 0xffff888004560000ull;
constexpr uint64_t kRcuKva = 0xffff888003b00000ull;

TaskEnrichment* AddTask(FailureDumpReport* r, uint64_t kva, int pid, const std::string& comm,
                        uint64_t age_jiffies, uint64_t slice, uint32_t flags) {
  auto* t = r->add_task_enrichments();
  t->set_task_kva(kva);
  t->set_pid(pid);
  t->set_tgid(pid);
  t->set_comm(comm);
  t->set_state_char("R");
  t->set_runnable_at_age_jiffies(age_jiffies);
  t->set_scx_state(4);
  t->set_scx_flags(flags | (4u << 8));  // the state bits, which the kernel's line leaves out
  t->set_dsq_flags(0);
  t->set_ops_state(2);
  t->set_ops_qseq(1);
  t->set_sticky_cpu(-1);
  t->set_holding_cpu(-1);
  t->set_dsq_vtime(0);
  t->set_slice(slice);
  t->set_weight(100);
  t->set_cpus_allowed("0-1");
  t->set_migration_disabled(0);
  return t;
}

void AddFrames(TaskEnrichment* t, const std::vector<std::string>& symbols) {
  uint64_t pc = 0xffffffff81000000ull;
  for (const std::string& s : symbols) {
    auto* f = t->add_kernel_stack();
    f->set_pc(pc += 0x100);
    f->set_symbol(s);
  }
}

// The sample's state: CPU 0 runs kworker/u8:1 with bpftool and rcu_preempt waiting, CPU 1 is idle.
FailureDumpReport StallReport() {
  FailureDumpReport r;
  r.set_schema("single");
  auto* features = r.mutable_scx_features();
  features->set_layout("scx_root");
  features->set_sub_sched(true);
  features->add_absent_fields("rq_scx_state.ops_qseq");  // 7.2 has none
  auto* s = r.mutable_scx_sched_state();
  s->set_ops_name("poc_stall");
  s->set_exit_kind(1026);
  s->set_hz(250);
  auto* e = s->mutable_exit_info();
  e->set_kind(1026);
  e->set_reason("runnable task stall");
  e->set_msg("bpftool[135] failed to run for 2.876s");
  for (const char* f : {"__scx_exit+0x4f/0x70", "scx_watchdog_workfn+0x15e/0x200"}) {
    e->add_backtrace(f);
    e->add_backtrace_pcs(0xffffffff81100000ull);
  }
  auto* ev = s->mutable_event_counters();
  ev->set_dispatch_keep_last(5);
  ev->set_refill_slice_dfl(53);
  ev->set_bypass_duration(47376383);
  ev->set_bypass_activate(1);

  auto* cpu0 = r.add_rq_scx_states();
  cpu0->set_cpu(0);
  cpu0->set_nr_running(4);
  cpu0->set_flags(1);
  cpu0->set_ops_qseq(99);  // absent on this kernel: must not be printed
  cpu0->set_kick_sync(76);
  cpu0->set_curr_pid(28);
  cpu0->set_curr_comm("kworker/u8:1");
  cpu0->set_curr_sched_class("ext");
  cpu0->set_curr_task_kva(kKworkerKva);
  cpu0->add_runnable_task_kvas(kBpftoolKva);
  cpu0->add_runnable_task_kvas(kRcuKva);
  auto* cpu1 = r.add_rq_scx_states();
  cpu1->set_cpu(1);
  cpu1->set_kick_sync(84);
  cpu1->set_curr_pid(0);
  cpu1->set_curr_comm("swapper/1");
  cpu1->set_curr_sched_class("idle");

  auto* kworker = AddTask(&r, kKworkerKva, 28, "kworker/u8:1", 0, 20000000, 0xd);
  kworker->set_ops_state(0);
  kworker->set_ops_qseq(0);
  kworker->set_is_running(true);
  AddFrames(kworker, {"scx_watchdog_workfn+0x17c/0x200", "process_one_work+0x198/0x370"});
  AddFrames(AddTask(&r, kBpftoolKva, 135, "bpftool", 719, 0, 0x3),
            {"__zap_vma_range+0x933/0x1a80", "unmap_vmas+0xbf/0x1b0"});
  AddFrames(AddTask(&r, kRcuKva, 15, "rcu_preempt", 616, 19764947, 0xb),
            {"rcu_gp_kthread+0x9f/0x130", "kthread+0xe3/0x120"});

  auto* map = r.add_maps();
  map->set_name("bpf_bpf.bss");
  map->set_map_type(2);
  return r;
}

TEST(RenderKernelStyleTest, SingleReadsLikeTheKernelsDump) {
  const std::string text = RenderSingleKernelStyle(StallReport());
  ExpectInOrder(text, {
                          "poc_stall: root\n"
                          "triggered exit kind 1026:\n"
                          "  runnable task stall (bpftool[135] failed to run for 2.876s)\n"
                          "\n"
                          "Backtrace:\n"
                          "  __scx_exit+0x4f/0x70\n"
                          "  scx_watchdog_workfn+0x15e/0x200\n",
                          "\nCPU states\n----------\n",
                          "\nCPU 0   : nr_run=4 flags=0x1 cpu_rel=0 ksync=76\n"
                          "          curr=kworker/u8:1[28] class=ext_sched_class\n",
                          "\n *R kworker/u8:1[28] +0ms\n"
                          "      scx_state/flags=4/0xd dsq_flags=0x0 ops_state/qseq=0/0\n"
                          "      sticky/holding_cpu=-1/-1 dsq_id=(n/a)\n"
                          "      dsq_vtime=0 slice=20000000 weight=100\n"
                          "      cpus=3 no_mig=0\n"
                          "\n"
                          "    scx_watchdog_workfn+0x17c/0x200\n"
                          "    process_one_work+0x198/0x370\n",
                          "\n  R bpftool[135] -2876ms\n"
                          "      scx_state/flags=4/0x3 dsq_flags=0x0 ops_state/qseq=2/1\n"
                          "      sticky/holding_cpu=-1/-1 dsq_id=(n/a)\n"
                          "      dsq_vtime=0 slice=0 weight=100\n"
                          "      cpus=3 no_mig=0\n"
                          "\n"
                          "    __zap_vma_range+0x933/0x1a80\n"
                          "    unmap_vmas+0xbf/0x1b0\n",
                          "\n  R rcu_preempt[15] -2464ms\n"
                          "      scx_state/flags=4/0xb",
                          "\nEvent counters\n--------------\n"
                          "              SCX_EV_SELECT_CPU_FALLBACK:                0\n"
                          "       SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE:                0\n"
                          "               SCX_EV_DISPATCH_KEEP_LAST:                5\n",
                          "                  SCX_EV_BYPASS_DURATION:         47376383\n",
                          "              SCX_EV_SUB_BYPASS_DISPATCH:                0\n",
                      });
  EXPECT_THAT(text, Not(HasSubstr("ops_qseq=99")));
  // CPU 1 is idle (nothing runnable, the idle class current): the kernel leaves it out.
  EXPECT_THAT(text, Not(HasSubstr("CPU 1")));
  // BPF maps have no place in the kernel's dump.
  EXPECT_THAT(text, Not(HasSubstr("bpf_bpf.bss")));
  EXPECT_THAT(text, Not(HasSubstr("TRUNCATED")));
}

// A field the report does not have is left out, not printed as a value.
TEST(RenderKernelStyleTest, MissingFieldsAreLeftOut) {
  FailureDumpReport r = StallReport();
  r.mutable_scx_features()->clear_absent_fields();
  r.mutable_scx_features()->add_absent_fields("event_counter_sample.sub_bypass_dispatch");
  r.mutable_scx_sched_state()->clear_hz();  // no HZ: runnable_at cannot become ms
  TaskEnrichment* bpftool = r.mutable_task_enrichments(1);
  bpftool->clear_sticky_cpu();
  bpftool->clear_cpus_allowed();
  bpftool->set_dsq_id(0x8000000000000002ull);
  r.mutable_rq_scx_states(0)->clear_kick_sync();
  const std::string text = RenderSingleKernelStyle(r);
  EXPECT_THAT(text, HasSubstr("CPU 0   : nr_run=4 flags=0x1 cpu_rel=0 ops_qseq=99\n"));
  EXPECT_THAT(text, HasSubstr("\n  R bpftool[135]\n"));
  EXPECT_THAT(text, HasSubstr("      dsq_id=0x8000000000000002\n"));
  EXPECT_THAT(text, HasSubstr("      no_mig=0\n"));
  EXPECT_THAT(text, Not(HasSubstr("SCX_EV_SUB_BYPASS_DISPATCH")));
  EXPECT_THAT(text, Not(HasSubstr("ms\n")));

  // A scheduler that has not exited: no exit lines, the CPU states still.
  r.mutable_scx_sched_state()->clear_exit_info();
  r.mutable_scx_sched_state()->set_exit_kind(0);
  const std::string running = RenderSingleKernelStyle(r);
  EXPECT_THAT(running, Not(HasSubstr("triggered")));
  EXPECT_THAT(running, Not(HasSubstr("Backtrace:")));
  ExpectInOrder(running, {"poc_stall: root\n", "CPU states"});
}

// cpus= is the kernel's %*pb: hex 32-bit chunks from the top, the first as wide as its bits.
TEST(RenderKernelStyleTest, CpusIsTheKernelsBitmap) {
  FailureDumpReport r = StallReport();
  for (uint32_t cpu = 2; cpu < 40; ++cpu) r.add_rq_scx_states()->set_cpu(cpu);
  r.mutable_task_enrichments(1)->set_cpus_allowed("0-1,33");
  r.mutable_task_enrichments(2)->set_cpus_allowed("not a cpulist\n");
  const std::string text = RenderSingleKernelStyle(r);
  EXPECT_THAT(text, HasSubstr("      cpus=02,00000003 no_mig=0\n"));
  EXPECT_THAT(text, HasSubstr("      cpus=not a cpulist? no_mig=0\n"));
}

// Guest strings stay on their line: control bytes become '?', as in the default text.
TEST(RenderKernelStyleTest, HostileStringsStayOnTheirLine) {
  FailureDumpReport r = StallReport();
  r.mutable_task_enrichments(1)->set_comm("evil\n\x1b[2J");
  r.mutable_task_enrichments(1)->mutable_kernel_stack(0)->set_symbol("sym\r\nCPU 9 : fake");
  r.mutable_scx_sched_state()->mutable_exit_info()->set_msg(std::string(5000, 'x') + "\n");
  r.mutable_rq_scx_states(0)->set_curr_comm("a\tb");
  const std::string text = RenderSingleKernelStyle(r);
  EXPECT_THAT(text, HasSubstr("\n  R evil??[2J[135] -2876ms\n"));
  EXPECT_THAT(text, HasSubstr("\n    sym??CPU 9 : fake\n"));
  EXPECT_THAT(text, HasSubstr("curr=a?b[28]"));
  EXPECT_THAT(text, HasSubstr(absl::StrCat("(", std::string(1024, 'x'), "...)\n")));
}

// Hostile sizes stay bounded: 256 task blocks, then a count of the rest; a list that is not the
// kernel's cpulist (ranges overlap) is printed as given, cut like any guest string.
TEST(RenderKernelStyleTest, HostileSizesStayBounded) {
  FailureDumpReport r = StallReport();
  std::string every_cpu;
  for (int i = 0; i < 4096; ++i) absl::StrAppend(&every_cpu, "0-8191,");
  r.mutable_task_enrichments(1)->set_cpus_allowed(every_cpu);
  r.mutable_task_enrichments(2)->set_cpus_allowed("0,2-8191");
  for (int i = 0; i < 300; ++i) r.mutable_rq_scx_states(0)->add_runnable_task_kvas(kBpftoolKva);
  const std::string text = RenderSingleKernelStyle(r);
  EXPECT_THAT(text, HasSubstr("\n47 more task(s) left out here (the JSON formats carry every "
                              "one)\n"));
  EXPECT_THAT(text, HasSubstr(" cpus=0-8191,0-8191,"));
  EXPECT_THAT(text, HasSubstr(",0-81... no_mig=0\n"));  // cut at 200 bytes
  std::vector<std::string> chunks(8192 / 32, "ffffffff");
  chunks.back() = "fffffffd";
  EXPECT_THAT(text, HasSubstr(absl::StrCat(" cpus=", absl::StrJoin(chunks, ","), " no_mig=0\n")));
  EXPECT_LT(text.size(), 200000u);
}

TEST(RenderKernelStyleTest, DualPrintsBothCapturesInOrder) {
  DualFailureDumpReport d;
  d.set_schema("dual");
  FailureDumpReport early = StallReport();
  early.mutable_scx_sched_state()->clear_exit_info();
  early.mutable_scx_sched_state()->set_exit_kind(0);
  early.mutable_task_enrichments(1)->set_runnable_at_age_jiffies(260);
  *d.mutable_early() = early;
  *d.mutable_late() = StallReport();
  DumpEnvelope envelope;
  envelope.set_dump_id("d-1");
  envelope.set_target("vm");
  *envelope.mutable_dual() = d;
  const std::string text = RenderEnvelopeText(envelope, TextStyle::kKernel);
  ExpectInOrder(
      text, {"dump d-1 target=vm", "=== early snapshot", "CPU states", "  R bpftool[135] -1040ms",
             "Event counters", "=== late snapshot", "triggered exit kind 1026:", "CPU states",
             "  R bpftool[135] -2876ms", "Event counters"});

  d.clear_early();
  d.set_early_skipped_reason("late fired first");
  *envelope.mutable_dual() = d;
  ExpectInOrder(
      RenderEnvelopeText(envelope, TextStyle::kKernel),
      {"=== early snapshot", "(absent: late fired first)", "=== late snapshot", "CPU states"});
}

TEST(RenderKernelStyleTest, ReasonsDegradedAndTruncation) {
  FailureDumpReport empty;
  empty.set_scx_walker_unavailable("no sched_ext in this kernel");
  EXPECT_EQ(RenderSingleKernelStyle(empty),
            "scx_walker: <unavailable: no sched_ext in this kernel>\n");
  EXPECT_EQ(RenderSingleKernelStyle(FailureDumpReport()), "(no sched_ext state in this report)\n");

  FailureDumpReport cut = StallReport();
  cut.set_dump_truncated_at_us(1500);
  EXPECT_THAT(RenderSingleKernelStyle(cut), ::testing::EndsWith("\n\n~~~~ TRUNCATED ~~~~\n"));

  DumpEnvelope envelope;
  envelope.mutable_degraded()->set_reason("pause failed");
  *envelope.mutable_degraded()->mutable_partial() = StallReport();
  ExpectInOrder(RenderReportKernelStyle(envelope),
                {"degraded failure dump: pause failed\n",
                 "=== collected before the failure ===", "CPU states"});
}

}  // namespace
}  // namespace kfreeze::report
