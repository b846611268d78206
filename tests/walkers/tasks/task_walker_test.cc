#include "core/walkers/tasks/task_walker.h"

#include <string>

#include "absl/container/flat_hash_map.h"
#include "core/base/reasons.h"
#include "core/dump/running_tasks.h"
#include "core/mem/guest_snapshot.h"
#include "core/report/report_json.h"
#include "core/walkers/common/symbolize.h"
#include "core/walkers/scx/scx_capture.h"
#include "core/walkers/tasks/task_state.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/walkers/support/scx_world.h"

namespace kfreeze::walkers::tasks {
namespace {

using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;
using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::TaskEnrichment;
namespace L = kfreeze::testing::layout;

struct Captured {
  FailureDumpReport report;
  absl::flat_hash_map<uint64_t, TaskEnrichment> by_kva;
};

Captured Capture(ScxWorld& w, FailureDumpReport report = {}) {
  Reader reader = w.guest().MakeReader();
  scx::ScxContext sctx = scx::BuildScxContext(w.view(), reader);
  TaskContext tctx = BuildTaskContext(w.view().btf, sctx);
  const scx::ScxTaskRefs refs = scx::CaptureScx(reader, sctx, report);
  CaptureTasks(reader, tctx, refs, report);
  Captured c;
  c.report = report;
  for (const TaskEnrichment& t : report.task_enrichments()) c.by_kva[t.task_kva()] = t;
  return c;
}

TEST(TaskState, MatchesKernelLetters) {
  EXPECT_EQ(TaskStateChar(0, 0), 'R');
  EXPECT_EQ(TaskStateChar(1, 0), 'S');
  EXPECT_EQ(TaskStateChar(2, 0), 'D');
  EXPECT_EQ(TaskStateChar(0x402, 0), 'I');   // TASK_IDLE
  EXPECT_EQ(TaskStateChar(0, 0x20), 'Z');    // EXIT_ZOMBIE
  EXPECT_EQ(TaskStateChar(0x1000, 0), 'D');  // RT lock wait reports as D
  EXPECT_EQ(TaskStateChar(0x40, 0), 'P');
}

TEST(CaptureTasks, EveryReferencedKvaJoinsToARecord) {
  ScxWorld w;
  w.SetJiffies(5000);
  w.AttachScheduler("sched");
  Kva a = w.NewTask(10, "runner"), b = w.NewTask(11, "queued"), c = w.NewTask(12, "sleeper");
  Kva orphan = w.NewTask(13, "only_on_dsq");  // not on scx_tasks: still joined
  for (Kva t : {a, b, c}) w.AddToScxTasks(t);
  w.AddScxTasksCursor();
  w.SetCurr(0, a);
  w.AddRunnable(0, a);
  w.AddRunnable(0, b);
  Kva u = w.UserDsq(42);
  w.Enqueue(u, b);
  w.Enqueue(w.GlobalDsq(), orphan);
  w.SetRunnableAt(b, 4000);
  w.guest().Put<uint32_t>(c + L::kTaskState, 1);  // TASK_INTERRUPTIBLE

  Captured got = Capture(w);
  EXPECT_FALSE(got.report.has_task_enrichments_unavailable())
      << got.report.task_enrichments_unavailable();
  EXPECT_EQ(got.report.task_enrichments_size(), 4);  // no cursor record
  for (const auto& rq : got.report.rq_scx_states()) {
    for (uint64_t k : rq.runnable_task_kvas()) EXPECT_TRUE(got.by_kva.contains(k));
    if (rq.has_curr_task_kva()) {
      EXPECT_TRUE(got.by_kva.contains(rq.curr_task_kva()));
    }
  }
  for (const auto& d : got.report.dsq_states()) {
    for (uint64_t k : d.task_kvas()) EXPECT_TRUE(got.by_kva.contains(k)) << d.origin();
  }
  const TaskEnrichment& tb = got.by_kva[b.value];
  EXPECT_EQ(tb.pid(), 11);
  EXPECT_EQ(tb.comm(), "queued");
  EXPECT_EQ(tb.dsq_id(), 42u);
  EXPECT_EQ(tb.runnable_at_age_jiffies(), 1000u);
  EXPECT_TRUE(tb.is_runnable_in_scx());
  EXPECT_FALSE(tb.is_running());
  EXPECT_EQ(tb.sched_class(), "ext");
  EXPECT_EQ(tb.weight(), 100u);
  EXPECT_EQ(tb.slice(), 20000000u);
  EXPECT_EQ(tb.sticky_cpu(), -1);
  EXPECT_EQ(tb.scx_flags(), 0x401u);
  EXPECT_EQ(tb.scx_state(), 4u);  // SCX_TASK_ENABLED >> SCX_TASK_STATE_SHIFT
  EXPECT_EQ(tb.cpus_allowed(), "0-1");
  EXPECT_EQ(tb.cpu(), 0u);
  EXPECT_EQ(tb.policy(), 7u);
  EXPECT_EQ(tb.state_char(), "R");
  EXPECT_FALSE(tb.pi_boosted_out_of_scx());
  EXPECT_TRUE(got.by_kva[a.value].is_running());
  EXPECT_EQ(got.by_kva[c.value].state_char(), "S");
  EXPECT_FALSE(got.by_kva[c.value].has_dsq_id());  // p->scx.dsq NULL: absent
}

// init (pid 1) and its child worker (pid 200) with a signal_struct, both on scx_tasks.
struct Family {
  explicit Family(ScxWorld& w) : parent(w.NewTask(1, "init")), child(w.NewTask(200, "worker")) {
    w.guest().PutPtr(child + L::kTaskRealParent, parent);
    w.SetSignal({child}, 3, 150, 140);
    w.AddToScxTasks(parent);
    w.AddToScxTasks(child);
  }
  Kva parent, child;
};

TEST(CaptureTasks, ProcessTreeAndSignal) {
  ScxWorld w;
  const auto [parent, child] = Family(w);
  Captured got = Capture(w);
  const TaskEnrichment& t = got.by_kva[child.value];
  EXPECT_EQ(t.real_parent_pid(), 1);
  EXPECT_EQ(t.real_parent_comm(), "init");
  EXPECT_EQ(t.group_leader_pid(), 200);
  EXPECT_EQ(t.nr_threads(), 3u);
  EXPECT_EQ(t.pgid(), 150);
  EXPECT_EQ(t.sid(), 140);
  EXPECT_EQ(t.signal_nvcsw(), 11u);
  EXPECT_FALSE(got.by_kva[parent.value].has_pgid());  // no signal_struct: absent, not 0
}

// The copy stage reads every task but builds no record; the decode stage, reading only what the
// copy stage copied, builds the records a direct walk of the frozen guest builds.
TEST(CaptureTasks, TheCopyStageCopiesWhatTheDecodeStageRendersFrom) {
  ScxWorld w;
  const auto [parent, child] = Family(w);
  const Kva stack = w.GiveStack(child);
  w.SetCurr(0, child);
  const Captured direct = Capture(w);

  Reader reader = w.guest().MakeReader();
  scx::ScxContext sctx = scx::BuildScxContext(w.view(), reader);
  TaskContext tctx = BuildTaskContext(w.view().btf, sctx);
  GuestSnapshot snapshot(16 << 20);
  reader.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  FailureDumpReport scratch;
  const scx::ScxTaskRefs refs = scx::CaptureScx(reader, sctx, scratch);
  const TaskStackRefs stacks = CaptureTasks(reader, tctx, refs, scratch);
  EXPECT_EQ(scratch.task_enrichments_size(), 0);
  ASSERT_EQ(stacks.tasks.size(), 1u);
  EXPECT_EQ(stacks.tasks[0].task_kva, child.value);
  EXPECT_EQ(stacks.tasks[0].stack_base, stack.value);
  EXPECT_TRUE(stacks.tasks[0].running);

  ASSERT_TRUE(snapshot.Seal().ok());
  w.guest().Put<int32_t>(parent + L::kTaskPid, 99);  // the guest runs on after `cont`
  reader.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  FailureDumpReport decoded;
  const scx::ScxTaskRefs replayed = scx::CaptureScx(reader, sctx, decoded);
  CaptureTasks(reader, tctx, replayed, decoded);
  EXPECT_FALSE(decoded.has_task_enrichments_unavailable())
      << decoded.task_enrichments_unavailable();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decoded, direct.report))
      << report::ToJson(decoded, report::JsonDialect::kProto3).value();
}

// A member offset far outside any task_struct (a hostile BTF) is a reason, not a huge read; the
// tasks were found, so it is a partial walk, not ktstr's "zero tasks".
TEST(CaptureTasks, AnAbsurdMemberOffsetIsAReasonNotAHugeRead) {
  ScxWorld w;
  w.AddToScxTasks(w.NewTask(10, "t"));
  Reader reader = w.guest().MakeReader();
  scx::ScxContext sctx = scx::BuildScxContext(w.view(), reader);
  TaskContext tctx = BuildTaskContext(w.view().btf, sctx);
  ASSERT_TRUE(tctx.off.detail);
  tctx.off.detail->nvcsw = uint64_t{1} << 30;
  FailureDumpReport report;
  CaptureTasks(reader, tctx, scx::CaptureScx(reader, sctx, report), report);
  EXPECT_EQ(report.task_enrichments_size(), 0);
  EXPECT_THAT(report.task_enrichments_unavailable(),
              ::testing::StartsWith(kReasonTasksPartialPrefix));
  EXPECT_THAT(report.task_enrichments_unavailable(), ::testing::HasSubstr("exceeds 65536"));
}

TEST(CaptureTasks, PiBoostedTaskIsFlagged) {
  ScxWorld w;
  Kva t = w.NewTask(7, "boosted");
  w.AddToScxTasks(t);
  w.AddRunnable(1, t);
  w.guest().PutPtr(t + L::kTaskSchedClass, w.FairClass());
  Captured got = Capture(w);
  EXPECT_TRUE(got.by_kva[t.value].pi_boosted_out_of_scx());
  EXPECT_EQ(got.by_kva[t.value].sched_class(), "fair");
}

TEST(CaptureTasks, RunningPcOnlyWhenVcpuStackMatches) {
  ScxWorld w;
  Kva a = w.NewTask(20, "spinner"), b = w.NewTask(21, "other");
  w.AddToScxTasks(a);
  w.AddToScxTasks(b);
  Kva stack_a = w.GiveStack(a);
  Kva stack_b = w.GiveStack(b);
  w.SetCurr(1, a);  // CPU 1 runs a ...
  w.SetCurr(0, b);
  Captured got = Capture(w);
  // The walk records each task's stack; registers are joined after it, as in a freeze.
  EXPECT_EQ(got.by_kva[a.value].stack_base(), stack_a.value);
  EXPECT_EQ(got.by_kva[b.value].stack_base(), stack_b.value);
  EXPECT_FALSE(got.by_kva[a.value].has_running_pc());
  // ... but on vCPU 0 (index != cpu): pairing by stack, not by index.
  auto* r0 = got.report.add_vcpu_regs()->mutable_regs();
  r0->set_instruction_pointer(w.SchedulerText().value + 0x10);
  r0->set_stack_pointer(stack_a.value + 0x3f00);
  auto* r1 = got.report.add_vcpu_regs()->mutable_regs();
  r1->set_instruction_pointer(0x401000);  // user mode: no pairing possible
  r1->set_stack_pointer(0x7ffc0000);
  const SymbolIndex& symbols = w.view().symbols;
  dump::PairRunningTasks(got.report, [&](uint64_t ip) { return Symbolize(symbols, Kva(ip)); });
  for (const TaskEnrichment& t : got.report.task_enrichments()) got.by_kva[t.task_kva()] = t;
  const TaskEnrichment& ta = got.by_kva[a.value];
  EXPECT_EQ(ta.running_pc(), w.SchedulerText().value + 0x10);
  EXPECT_EQ(ta.running_symbol(), "scx_watchdog_workfn+0x10");
  EXPECT_FALSE(ta.has_lock_slowpath_match());
  EXPECT_FALSE(got.by_kva[b.value].has_running_pc());
}

TEST(CaptureTasks, CyclicScxTasksIsReportedAndTasksKept) {
  ScxWorld w;
  Kva a = w.NewTask(1, "a"), b = w.NewTask(2, "b");
  w.AddToScxTasks(a);
  w.AddToScxTasks(b);
  w.guest().PutPtr(b + L::kTaskScx + L::kSeeTasksNode, a + L::kTaskScx + L::kSeeTasksNode);
  Captured got = Capture(w);
  EXPECT_EQ(got.report.task_enrichments_size(), 2);
  EXPECT_NE(got.report.task_enrichments_unavailable().find("cycle"), std::string::npos)
      << got.report.task_enrichments_unavailable();
}

TEST(CaptureTasks, ZeroTasks) {
  ScxWorld w;
  Captured got = Capture(w);
  EXPECT_EQ(got.report.task_enrichments_unavailable(), kReasonTaskWalkerZeroTasks);
}

TEST(CaptureTasks, MissingDetailGroupKeepsIdentityAndSaysWhy) {
  ScxWorldOptions o;
  o.omit = {"task_struct.policy"};
  ScxWorld w(o);
  Kva a = w.NewTask(9, "x");
  w.AddToScxTasks(a);
  Captured got = Capture(w);
  ASSERT_EQ(got.report.task_enrichments_size(), 1);
  EXPECT_EQ(got.report.task_enrichments(0).comm(), "x");
  EXPECT_FALSE(got.report.task_enrichments(0).has_policy());
  EXPECT_EQ(got.report.task_enrichments_unavailable(),
            "task walker partial: missing offset groups [task_detail]");
}

TEST(CaptureTasks, CapIsReported) {
  ScxWorld w;
  for (int i = 0; i < static_cast<int>(kMaxTasks) + 3; ++i) w.AddToScxTasks(w.NewTask(i + 1, "t"));
  Captured got = Capture(w);
  EXPECT_EQ(got.report.task_enrichments_size(), static_cast<int>(kMaxTasks));
  EXPECT_EQ(got.report.task_enrichments_unavailable(),
            "task walker truncated: 4096 of 4099 tasks (cap 4096)");
}

// A guest process can write any bytes to /proc/self/comm: the report must still be valid proto3
// (parsable by any client), its JSON writers must not throw, and the raw bytes stay available.
TEST(CaptureTasks, CommThatIsNotUtf8IsReplacedAndKeptRaw) {
  ScxWorld w;
  const std::string raw =
      "\xff\xfe"
      "bad\xc3";
  Kva parent = w.NewTask(1, "init\x80");
  Kva child = w.NewTask(300, raw);
  Kva sibling = w.NewTask(301, "plain");
  w.guest().PutPtr(child + L::kTaskRealParent, parent);
  for (Kva t : {parent, child, sibling}) w.AddToScxTasks(t);
  Captured got = Capture(w);
  const TaskEnrichment& t = got.by_kva[child.value];
  EXPECT_EQ(t.comm(),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "bad\xEF\xBF\xBD");
  EXPECT_EQ(t.comm_raw(), raw);
  EXPECT_EQ(t.real_parent_comm(), "init\xEF\xBF\xBD");
  EXPECT_EQ(t.real_parent_comm_raw(), "init\x80");
  EXPECT_EQ(got.by_kva[parent.value].comm_raw(), "init\x80");
  EXPECT_FALSE(got.by_kva[sibling.value].has_comm_raw());  // only when the bytes needed fixing

  std::string wire;
  ASSERT_TRUE(got.report.SerializeToString(&wire));
  FailureDumpReport parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire)) << "a client could not read this report";
  for (report::JsonDialect d : {report::JsonDialect::kProto3, report::JsonDialect::kKtstr}) {
    std::string json = report::ToJson(got.report, d).value();
    EXPECT_NE(json.find("bad"), std::string::npos);
  }
}

}  // namespace
}  // namespace kfreeze::walkers::tasks
