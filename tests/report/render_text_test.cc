// Text rendering: ktstr's sparkline rules and the words a person needs to see.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/base/reasons.h"
#include "core/report/render_text.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/report/expect_in_order.h"
#include "tests/report/sample_reports.h"

namespace kfreeze::report {
namespace {

using ::kfreeze::testing::ExpectInOrder;
using ::testing::HasSubstr;

TEST(SparklineTest, SeedRules) {
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{}), "");
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 0, 0}), "▁▁▁");  // constant zero
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{7, 7}), "▅▅");      // constant non-zero
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 7}), "▁█");      // min-max scaling
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7}), "▁▂▃▄▅▆▇█");
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{10, 11, 12}), "▁▄█");    // (v-min)*7/span
  EXPECT_EQ(RenderSparkline(std::vector<uint64_t>{0, UINT64_MAX}), "▁█");  // no overflow
  EXPECT_EQ(RenderSparklineI64(std::vector<int64_t>{-5, 0, 7}), "▁▁█");    // negatives clamp
  EXPECT_EQ(RenderSparklineI64(std::vector<int64_t>{-1, -2}), "▁▁");       // all clamp to zero
}

TEST(RenderTextTest, SingleShowsEverySection) {
  const std::string text = RenderSingleText(kfreeze::testing::SampleSingleReport());
  EXPECT_THAT(text, HasSubstr("map bpf_bpf.bss (type=array, value_size=448, max_entries=1)"));
  EXPECT_THAT(text, HasSubstr("nr_dispatched=849"));
  EXPECT_THAT(text, HasSubstr("name=\"abc\""));
  EXPECT_THAT(text, HasSubstr("[error: hash map truncated at 4096 entries]"));
  EXPECT_THAT(text, HasSubstr("de ad be ef (raw)"));
  EXPECT_THAT(text, HasSubstr("key 1: <unreadable>"));
  EXPECT_THAT(text, HasSubstr("cpu 1: <unmapped>"));
  EXPECT_THAT(text, HasSubstr("ringbuf: capacity=4096B, pending=512B"));
  EXPECT_THAT(text, HasSubstr("vcpu 1: <unavailable>"));
  EXPECT_THAT(text, HasSubstr("per_node_numa: <unavailable: NUMA partial: node 1: unreadable>"));
  EXPECT_THAT(text, HasSubstr("poc_enqueue: cnt=1000 nsecs=250000 misses=2 ns/call=250.000"));
  EXPECT_THAT(text, HasSubstr("scx_sched: poc_stall exit_kind=1026"));
  EXPECT_THAT(text, HasSubstr("dsq 0x8000000000000002 (local cpu 0): nr=1"));
  EXPECT_THAT(text, HasSubstr("bpftool"));
  EXPECT_THAT(text, HasSubstr("dispatch_keep_last  ▁▃▅█"));
  EXPECT_THAT(text, HasSubstr("dump truncated: deadline crossed at 1500us (2 map(s) skipped"));
}

// What a stall is about comes first: the exit with its backtrace, the scheduler, the CPUs, the
// DSQs (local, bypass, global, user) with their tasks in queue order, the tasks with their
// stacks; the BPF maps last.
TEST(RenderTextTest, StallFirstMapsLast) {
  kfreeze::v1::FailureDumpReport r = kfreeze::testing::SampleSingleReport();
  auto* user = r.add_dsq_states();
  user->set_id(0x1000);
  user->set_origin("user");
  user->add_task_kvas(0xffff888000000040ull);  // not among the captured tasks
  user->add_task_kvas(0xffff888004560000ull);
  auto* global = r.add_dsq_states();
  global->set_id(0x8000000000000001ull);
  global->set_origin("global node 0");
  auto* bypass = r.add_dsq_states();
  bypass->set_id(0x8000000000000003ull);
  bypass->set_origin("bypass cpu 0");
  auto* events = r.mutable_scx_sched_state()->mutable_event_counters();
  events->set_dispatch_keep_last(5);
  const std::string text = RenderSingleText(r);
  ExpectInOrder(text,
                {"exit: kind=1026 code=0 reason=\"runnable task stall\"\n"
                 "  msg: bpftool[135] failed to run for 2.876s\n"
                 "  backtrace:\n"
                 "    __scx_exit+0x4f/0x70\n",
                 "scx_sched: poc_stall exit_kind=1026", "active scheduler object: scx_poc",
                 "poc_enqueue: cnt=1000", "CPU 0  : nr_run=4",
                 "dsq 0x8000000000000002 (local cpu 0): nr=1 seq=5\n"
                 "  [0] 0xffff888004560000 bpftool[135] waiting=719j\n",
                 "(bypass cpu 0)", "(global node 0)",
                 "dsq 0x1000 (user): nr=0 seq=0\n"
                 "  [0] 0xffff888000000040\n"
                 "  [1] 0xffff888004560000 bpftool[135] waiting=719j\n",
                 "scx events (summed over CPUs): select_cpu_fallback=0 "
                 "dispatch_local_dsq_offline=0 dispatch_keep_last=5",
                 "tasks: 1 captured", "__do_sys_brk+0x35c/0x3c0", "vcpu_regs:", "bpf maps: 13\n",
                 "map bpf_bpf.bss", "map weird", "dump truncated: deadline crossed"});
}

TEST(RenderTextTest, DualShowsEachCaptureStallFirst) {
  const std::string text = RenderDualText(kfreeze::testing::SampleDualReport());
  ExpectInOrder(text, {"=== early snapshot", "scx_walker: <unavailable:", "bpf maps: 1\n",
                       "=== late snapshot", "exit: kind=1026", "scx_sched: poc_stall",
                       "CPU 0  :", "dsq 0x8000000000000002 (local cpu 0)", "tasks: 1 captured",
                       "bpf maps: 13\n"});
}

// A field the kernel does not have (scx_features.absent_fields) is left out, never printed as 0.
TEST(RenderTextTest, FieldsTheKernelLacksAreNotShownAsZero) {
  kfreeze::v1::FailureDumpReport r = kfreeze::testing::SampleSingleReport();
  EXPECT_THAT(RenderSingleText(r), HasSubstr(" ops_qseq=76"));
  EXPECT_THAT(RenderSingleText(r), HasSubstr(" aborting="));
  r.mutable_scx_features()->set_layout("scx_root");
  r.mutable_scx_features()->add_absent_fields("rq_scx_state.ops_qseq");
  r.mutable_scx_features()->add_absent_fields("scx_sched_state.aborting");
  const std::string text = RenderSingleText(r);
  EXPECT_THAT(text, ::testing::Not(HasSubstr("ops_qseq=")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("aborting=")));
  EXPECT_THAT(text, HasSubstr("bypass_depth="));
  EXPECT_THAT(text, HasSubstr("scx_layout: scx_root"));
}

TEST(RenderTextTest, DualAndDegraded) {
  const std::string dual = RenderDualText(kfreeze::testing::SampleDualReport());
  EXPECT_THAT(dual, HasSubstr("early=present (max_age=260j, threshold=250j)"));
  EXPECT_THAT(dual, HasSubstr("early snapshot"));
  EXPECT_THAT(dual, HasSubstr("late snapshot"));
  const std::string degraded = RenderDegradedText(kfreeze::testing::SampleDegradedReport());
  EXPECT_THAT(degraded, HasSubstr(std::string(kReasonPauseFailed)));
  EXPECT_THAT(degraded, HasSubstr("vcpus_parked: 1/2"));
  EXPECT_THAT(degraded, HasSubstr("vcpu 1: not_parked"));
}

// kfreeze arms no watchpoint: a false watchpoint_hit must not read as "armed and not hit".
TEST(RenderTextTest, DegradedMentionsWatchpointOnlyWhenHit) {
  kfreeze::v1::DegradedFailureDumpReport d = kfreeze::testing::SampleDegradedReport();
  ASSERT_FALSE(d.watchpoint_hit());
  EXPECT_THAT(RenderDegradedText(d), ::testing::Not(HasSubstr("watchpoint")));
  d.set_watchpoint_hit(true);
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("watchpoint_hit: true"));
}

// Every *_unavailable field of the report reaches the text, found by descriptor so a reason field
// added to the proto without a renderer fails here. Each reason is shown with its section filled
// too: a partial section keeps its reason next to what was captured.
TEST(RenderTextTest, EveryReasonFieldIsShown) {
  for (bool with_data : {false, true}) {
    kfreeze::v1::FailureDumpReport r =
        with_data ? kfreeze::testing::SampleSingleReport() : kfreeze::v1::FailureDumpReport();
    const auto* d = r.GetDescriptor();
    std::vector<std::string> markers;
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING || f->is_repeated() ||
          !absl::EndsWith(f->name(), "_unavailable")) {
        continue;
      }
      markers.push_back(absl::StrCat("reason-of-", f->name()));
      r.GetReflection()->SetString(&r, f, markers.back());
    }
    ASSERT_GE(markers.size(), 13u);
    const std::string text = RenderSingleText(r);
    for (const std::string& m : markers) {
      EXPECT_THAT(text, HasSubstr(absl::StrCat("<unavailable: ", m, ">")))
          << (with_data ? "with data" : "empty");
    }
  }
}

TEST(RenderTextTest, EmptyAndPlaceholder) {
  kfreeze::v1::FailureDumpReport empty;
  EXPECT_EQ(RenderSingleText(empty), "(empty failure dump)\n");
  EXPECT_THAT(RenderSingleText(kfreeze::testing::SamplePlaceholderReport()),
              HasSubstr("placeholder"));
}

// PSI averages are percent x FIXED_1 (2048), printed like /proc/pressure's avg10=12.50.
TEST(RenderTextTest, PsiAveragesArePercentTimesFixed1) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  auto* sys = r.add_cgroup_psi();
  sys->set_is_system(true);
  auto* cpu = sys->add_states();
  cpu->set_resource("cpu");
  cpu->set_kind("some");
  cpu->set_avg10_raw(12 * 2048 + 1024);
  EXPECT_THAT(RenderSingleText(r), HasSubstr("cpu_some=0ns(avg10=12.50%)"));
}

kfreeze::v1::TaskEnrichment* AddTask(kfreeze::v1::FailureDumpReport* r, int pid,
                                     const std::string& comm, const std::string& state) {
  auto* t = r->add_task_enrichments();
  t->set_pid(pid);
  t->set_tgid(pid);
  t->set_comm(comm);
  t->set_state_char(state);
  return t;
}

void AddFrame(kfreeze::v1::TaskEnrichment* t, uint64_t pc, const std::string& symbol,
              const std::string& via = "orc") {
  auto* f = t->add_kernel_stack();
  f->set_pc(pc);
  f->set_symbol(symbol);
  f->set_via(via);
}

// The kernel's dump style: tasks that matter first, each row followed by its stack, one %pS frame
// a line; then the rest, with their stacks and per-task reasons.
TEST(RenderTextTest, TasksThatMatterComeFirstWithTheirStacks) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  auto* sleeper = AddTask(&r, 128, "sleep", "S");
  sleeper->set_kernel_stack_origin("thread.sp");
  AddFrame(sleeper, 0xffffffff81f0a1c1, "__schedule+0x3c1/0x1290", "regs");
  AddFrame(sleeper, 0xffffffff81f0b427, "schedule+0x27/0xf0");
  AddFrame(sleeper, 0xffffffff81f10a86, "hrtimer_nanosleep+0x86/0x100");
  auto* blocked = AddTask(&r, 140, "kworker/0:2", "D");
  blocked->set_kernel_stack_origin("thread.sp");
  blocked->set_kernel_stack_unavailable("stack page 0xffffc90000a08000 unreadable");
  auto* dd = AddTask(&r, 133, "dd", "R");
  dd->set_is_running(true);
  dd->set_cpu(1);
  dd->set_kernel_stack_origin("vcpu 1");
  AddFrame(dd, 0xffffffff81a3c740, "rep_stos_alternative+0x40/0x80", "regs");
  AddFrame(dd, 0xffffffff81c01226, "asm_exc_page_fault+0x26/0x30", "pt_regs");
  AddFrame(dd, 0xffffffffc0001234, "", "frame_pointer");
  AddFrame(dd, 0xffffffff81c00000, "read_iter_zero+0x59/0xd0 [bad\nmodule]");
  dd->set_kernel_stack_unavailable("unwound past the stack's end");
  AddTask(&r, 1, "init", "S");  // no stack information at all: the row only

  const std::string text = RenderSingleText(r);
  EXPECT_THAT(text, HasSubstr("tasks: 4 captured, 2 with a kernel stack\n"));
  EXPECT_THAT(text, HasSubstr(" running\n"
                              "      kernel stack (vcpu 1):\n"
                              "        rep_stos_alternative+0x40/0x80\n"
                              "        asm_exc_page_fault+0x26/0x30 (pt_regs)\n"
                              "        0xffffffffc0001234\n"
                              "        read_iter_zero+0x59/0xd0 [bad?module]\n"
                              "        <unavailable: unwound past the stack's end>\n"));
  EXPECT_THAT(text, HasSubstr("      kernel stack (thread.sp):\n"
                              "        __schedule+0x3c1/0x1290\n"
                              "        schedule+0x27/0xf0\n"
                              "        hrtimer_nanosleep+0x86/0x100\n"));
  EXPECT_THAT(text, HasSubstr("      kernel stack (thread.sp): <unavailable: stack page "
                              "0xffffc90000a08000 unreadable>\n"));
  // Order: the running task, then the D-state one, then the sleepers in report order.
  const size_t matters = text.find("  -- running, runnable or on a DSQ --\n");
  const size_t rest = text.find("  -- other tasks --\n");
  const size_t pos_dd = text.find("     133     133 dd ");
  const size_t pos_kworker = text.find("     140     140 kworker/0:2 ");
  const size_t pos_sleep = text.find("     128     128 sleep ");
  const size_t pos_init = text.find("       1       1 init ");
  ASSERT_NE(matters, std::string::npos);
  ASSERT_NE(pos_init, std::string::npos);
  EXPECT_LT(matters, pos_dd);
  EXPECT_LT(pos_dd, rest);
  EXPECT_LT(rest, pos_kworker);
  EXPECT_LT(pos_kworker, pos_sleep);
  EXPECT_LT(pos_sleep, pos_init);
  // init has no stack information: its row is followed directly by the next section or the end.
  EXPECT_THAT(text.substr(pos_init), ::testing::Not(HasSubstr("kernel stack")));
  // Nothing was cut, so no note about the JSON.
  EXPECT_THAT(text, ::testing::Not(HasSubstr("left out")));
}

TEST(RenderTextTest, KernelStacksReasonIsShownWithoutTasks) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  r.set_kernel_stacks_unavailable("no ORC tables (kernel built without CONFIG_UNWINDER_ORC)");
  EXPECT_THAT(RenderSingleText(r),
              HasSubstr("kernel_stacks: <unavailable: no ORC tables (kernel built without "
                        "CONFIG_UNWINDER_ORC)>\n"));
}

// Hostile sizes stay bounded: 48 frames a stack, 32 stacks, and a note that the JSON has the rest.
TEST(RenderTextTest, StacksAreBoundedAndTheCutIsSaid) {
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  for (int pid = 1; pid <= 100; ++pid) {
    auto* t = AddTask(&r, pid, "worker", "S");
    t->set_kernel_stack_origin("thread.sp");
    for (int i = 0; i < 60; ++i)
      AddFrame(t, 0xffffffff81000000 + i, absl::StrCat("f", i, "+0x1/0x10"));
  }
  r.mutable_task_enrichments(99)->set_is_running(true);  // shown first, with its stack
  const std::string text = RenderSingleText(r);
  EXPECT_THAT(text, HasSubstr("        f47+0x1/0x10\n        ... 12 more frames\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("f48+0x1/0x10")));
  EXPECT_THAT(text, HasSubstr("kernel stacks: 100 of 100 tasks have one; 32 shown here, 68 left "
                              "out (the JSON formats carry every task's stack)\n"));
  size_t stacks = 0;
  for (size_t p = text.find("kernel stack ("); p != std::string::npos;
       p = text.find("kernel stack (", p + 1)) {
    ++stacks;
  }
  EXPECT_EQ(stacks, 32u);
  EXPECT_LT(text.find("     100     100 worker"), text.find("       1       1 worker"));
  EXPECT_LT(text.size(), 80000u);
}

// All of QEMU's x86 registers, `info registers` style, under the vCPU line (and in degraded
// reports, whose vCPUs are what is left to look at).
TEST(RenderTextTest, VcpuShowsEveryX86Register) {
  kfreeze::v1::X86Registers x;
  x.set_rax(0x1);
  x.set_rbx(0x2);
  x.set_rcx(0x3);
  x.set_rdx(0x4);
  x.set_rsi(0x5);
  x.set_rdi(0x6);
  x.set_rbp(0xffffc90000433e58);
  x.set_rsp(0xffffc90000433e30);
  x.set_r8(0x8);
  x.set_r9(0x9);
  x.set_r10(0xa);
  x.set_r11(0xb);
  x.set_r12(0xc);
  x.set_r13(0xd);
  x.set_r14(0xe);
  x.set_r15(0xf);
  x.set_rip(0xffffffff81a3c740);
  x.set_rflags(0x10246);
  x.set_cs(0x10);
  x.set_ss(0x18);
  x.set_fs_base(0x7f1234567740);
  x.set_gs_base(0xffff88803ed00000);
  x.set_cr0(0x80050033);
  x.set_cr2(0x55d0c0de1000);
  x.set_cr3(0x2b2e000);
  x.set_cr4(0x370ef0);
  x.set_efer(0xd01);
  const std::string block =
      "RAX=0000000000000001 RBX=0000000000000002 RCX=0000000000000003 RDX=0000000000000004\n"
      "RSI=0000000000000005 RDI=0000000000000006 RBP=ffffc90000433e58 RSP=ffffc90000433e30\n"
      "R8 =0000000000000008 R9 =0000000000000009 R10=000000000000000a R11=000000000000000b\n"
      "R12=000000000000000c R13=000000000000000d R14=000000000000000e R15=000000000000000f\n"
      "RIP=ffffffff81a3c740 RFL=00010246 CS=0010 SS=0018 CPL=0\n"
      "FS_BASE=00007f1234567740 GS_BASE=ffff88803ed00000 EFER=0000000000000d01\n"
      "CR0=80050033 CR2=000055d0c0de1000 CR3=0000000002b2e000 CR4=00370ef0\n";
  auto indented = [&block](const std::string& indent) {
    std::string out;
    for (absl::string_view line : absl::StrSplit(block, '\n', absl::SkipEmpty()))
      absl::StrAppend(&out, indent, line, "\n");
    return out;
  };

  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  auto* v = r.add_vcpu_regs()->mutable_regs();
  v->set_instruction_pointer(x.rip());
  v->set_stack_pointer(x.rsp());
  v->set_page_table_root(x.cr3());
  v->set_ip_symbol("rep_stos_alternative+0x40");
  *v->mutable_x86() = x;
  EXPECT_THAT(RenderSingleText(r),
              HasSubstr(absl::StrCat("  vcpu 0: ip=0xffffffff81a3c740 sp=0xffffc90000433e30 "
                                     "ptroot=0x0000000002b2e000 (rep_stos_alternative+0x40)\n",
                                     indented("    "))));

  x.set_cs(0x33);  // user mode
  kfreeze::v1::DegradedFailureDumpReport d;
  *d.add_vcpu_regs()->mutable_regs()->mutable_x86() = x;
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("      RIP=ffffffff81a3c740 RFL=00010246 CS=0033 "
                                               "SS=0018 CPL=3\n"));
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("      CR0=80050033 CR2=000055d0c0de1000"));

  // Without x86 the vCPU keeps its one line.
  r.mutable_vcpu_regs(0)->mutable_regs()->clear_x86();
  EXPECT_THAT(RenderSingleText(r), ::testing::Not(HasSubstr("RAX=")));
}

// An arm64 vCPU: QEMU's `info registers` layout (PC, x0..x30 three a line, SP, then PSTATE with
// its flags and EL), no page-table root (HMP has no TTBR), in single and degraded reports.
TEST(RenderTextTest, VcpuShowsEveryArm64Register) {
  kfreeze::v1::Arm64Registers a;
  for (int i = 0; i < 31; ++i) a.add_x(0x100 + i);
  a.set_x(29, 0xffff800080103df0);
  a.set_x(30, 0xffffac8636ddabe0);
  a.set_sp(0xffff800080103df0);
  a.set_pc(0xffffac8636ddabc8);
  a.set_pstate(0x614000c5);
  a.set_el(1);
  kfreeze::v1::FailureDumpReport r;
  r.set_schema("single");
  auto* v = r.add_vcpu_regs()->mutable_regs();
  v->set_instruction_pointer(a.pc());
  v->set_stack_pointer(a.sp());
  v->set_ip_symbol("default_idle_call+0x30");
  *v->mutable_arm64() = a;
  const std::string text = RenderSingleText(r);
  EXPECT_THAT(text,
              HasSubstr("  vcpu 0: ip=0xffffac8636ddabc8 sp=0xffff800080103df0 "
                        "(default_idle_call+0x30)\n"
                        "    PC=ffffac8636ddabc8 X00=0000000000000100 X01=0000000000000101\n"
                        "    X02=0000000000000102 X03=0000000000000103 X04=0000000000000104\n"));
  EXPECT_THAT(text, HasSubstr("    X29=ffff800080103df0 X30=ffffac8636ddabe0 SP=ffff800080103df0\n"
                              "    PSTATE=614000c5 -ZC- EL1h\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("ptroot")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("RAX=")));

  a.set_pstate(0x80001000);  // user mode, N set
  a.set_el(0);
  kfreeze::v1::DegradedFailureDumpReport d;
  *d.add_vcpu_regs()->mutable_regs()->mutable_arm64() = a;
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("    vcpu 0: parked, ip=0x0000000000000000 "
                                               "sp=0x0000000000000000\n      PC=ffffac8636ddabc8"));
  EXPECT_THAT(RenderDegradedText(d), HasSubstr("      PSTATE=80001000 N--- EL0t\n"));

  // A hostile report with more than 31 x entries shows x0..x30 only; one with fewer, what it has.
  for (int i = 0; i < 10; ++i) a.add_x(0xdead);
  *r.mutable_vcpu_regs(0)->mutable_regs()->mutable_arm64() = a;
  EXPECT_THAT(RenderSingleText(r), ::testing::Not(HasSubstr("X31=")));
  a.clear_x();
  a.add_x(7);
  *r.mutable_vcpu_regs(0)->mutable_regs()->mutable_arm64() = a;
  EXPECT_THAT(RenderSingleText(r), HasSubstr("    PC=ffffac8636ddabc8 X00=0000000000000007 "
                                             "SP=ffff800080103df0\n"));
}

}  // namespace
}  // namespace kfreeze::report
