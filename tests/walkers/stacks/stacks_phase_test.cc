// The stacks phase end to end on a synthetic guest: the real scx and tasks phases of
// KernelWalkerPhases find the tasks (ScxWorld), the stacks phase copies their stacks in RunPhases
// and unwinds them in RunDecodes over a tiny ORC table in guest memory, symbolized from kallsyms.
// The stacks phase reads its own BTF (task_struct.thread.sp) and symbols (ORC bounds, text),
// which ScxWorld does not declare; both describe the same guest memory.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/dump/run_phases.h"
#include "core/dump/vcpu_capture.h"
#include "core/walkers/phases/kernel_walker_phases.h"
#include "core/walkers/stacks/stacks_phase.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unwind/orc_test_tables.h"
#include "tests/walkers/support/scx_world.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::walkers::stacks {
namespace {

using namespace std::chrono_literals;
using kfreeze::testing::CallSp;
using kfreeze::testing::kTextBase;
using kfreeze::testing::OfType;
using kfreeze::testing::ScxWorld;
using kfreeze::testing::TableRow;
using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::TaskEnrichment;
using ::testing::HasSubstr;

constexpr uint32_t kThreadSpOffset = 600;  // unused by ScxWorld's task_struct layout
constexpr uint64_t kStackSize = 16 * 1024;
// Text: each function 0x100 bytes, so %pS prints "/0x100".
constexpr uint64_t kFuncA = kTextBase + 0x100, kFuncB = kTextBase + 0x200,
                   kRetFromFork = kTextBase + 0x300, kTextEnd = kTextBase + 0x400;
// Return addresses: into A after its call to B, into B after its call to schedule(), into
// ret_from_fork_asm after its call.
constexpr uint64_t kRetIntoA = kFuncA + 0x23, kRetIntoB = kFuncB + 0x37,
                   kRetIntoFork = kRetFromFork + 0x5;
// A's frame is 24 bytes (two pushes and the return address); B's and the rest only the return.
constexpr int16_t kFrameA = 24;

// ORC for the text: a rule per 0x40 bytes, so the detector sees a plausible table (7.1 layout).
std::vector<TableRow> OrcRows() {
  std::vector<TableRow> rows;
  for (uint64_t off = 0; off < 0x400; off += 0x40) {
    const uint64_t ip = kTextBase + off;
    if (ip == kFuncA) {
      rows.push_back({ip, CallSp(kFrameA)});
    } else if (ip == kRetFromFork) {
      rows.push_back({ip, OfType(OrcType::kEndOfStack)});
    } else {
      rows.push_back({ip, CallSp(8)});
    }
  }
  rows.push_back({kTextEnd, OfType(OrcType::kUndefined)});  // the terminator at _etext
  return rows;
}

// arm64 (7.3 layouts): thread.cpu_context {x19..x28, fp, sp, pc}; pt_regs with its
// frame_record_meta; KERNELPACMASK of a 52-bit kernel.
constexpr uint32_t kCtxFp = 80, kCtxSp = 88, kCtxPc = 96;
constexpr uint64_t kPtRegsSize = 320, kStackframe = 296;
constexpr uint64_t kPacMask = 0xfff0000000000000ull;

// A return address as pointer authentication leaves it in a frame record.
uint64_t PacSigned(uint64_t addr) { return (addr & ~kPacMask) | (0xb4bull << 52); }

enum class Arch { kX86_64, kArm64 };

struct World {
  explicit World(bool with_orc = true, Arch arch = Arch::kX86_64) : arch(arch) {
    if (arch == Arch::kArm64) {
      with_orc = false;  // arm64 kernels have none
      btf.Struct("cpu_context", 104,
                 {{"fp", "u64", kCtxFp}, {"sp", "u64", kCtxSp}, {"pc", "u64", kCtxPc}});
      btf.Struct("thread_struct", 104, {{"cpu_context", "cpu_context", 0}});
      btf.Struct("frame_record", 16, {{"fp", "u64", 0}, {"lr", "u64", 8}});
      btf.Struct("frame_record_meta", 24, {{"record", "frame_record", 0}, {"type", "u64", 16}});
      btf.Struct("pt_regs", kPtRegsSize,
                 {{"regs", "u64[31]", 0},
                  {"sp", "u64", 248},
                  {"pc", "u64", 256},
                  {"pstate", "u64", 264},
                  {"stackframe", "frame_record_meta", kStackframe}});
    } else {
      btf.Struct("thread_struct", 16, {{"sp", "u64", 0}});
    }
    btf.Struct("task_struct", 1024, {{"thread", "thread_struct", kThreadSpOffset}});
    resolver = btf.MakeResolver();
    std::vector<SymbolIndex::Entry> syms = {{"_stext", kTextBase, 'T'},
                                            {"func_a", kFuncA, 'T'},
                                            {"func_b", kFuncB, 'T'},
                                            {"ret_from_fork_asm", kRetFromFork, 'T'},
                                            {"_etext", kTextEnd, 'T'}};
    if (with_orc) {
      const OrcSectionRef orc =
          testing::PlaceTable(scx.guest(), OrcRows(), OrcLayout::kV7_1, kTextBase, kTextEnd);
      syms.push_back({"__start_orc_unwind_ip", orc.ip_table_kva, 'D'});
      syms.push_back({"__stop_orc_unwind_ip", orc.ip_table_kva + 4 * orc.count, 'D'});
      syms.push_back({"__start_orc_unwind", orc.orc_table_kva, 'D'});
    }
    symbols = std::make_unique<SymbolIndex>(std::move(syms));
    scx.AttachScheduler("sched");
  }

  // A task on scx_tasks with a stack, on `cpu`.
  Kva NewTask(int32_t pid, uint32_t cpu, Kva* stack) {
    Kva t = scx.NewTask(pid, "t" + std::to_string(pid));
    scx.guest().Put<uint32_t>(t + testing::layout::kTaskCpu, cpu);
    scx.AddToScxTasks(t);
    *stack = scx.GiveStack(t);
    return t;
  }

  // A sleeping task whose switch frame returns into A, then B, then ret_from_fork_asm.
  Kva SleepingTask(int32_t pid, Kva* frame_at = nullptr) {
    Kva stack;
    Kva t = NewTask(pid, 0, &stack);
    const Kva frame = stack + (kStackSize - 0x100);
    // struct inactive_task_frame: r15 r14 r13 r12 bx bp ret_addr.
    scx.guest().Put<uint64_t>(frame + 40, 0);
    scx.guest().Put<uint64_t>(frame + 48, kRetIntoA);
    const Kva a_sp = frame + 56;  // A's stack pointer: its two pushes, then its return address
    scx.guest().Put<uint64_t>(a_sp + (kFrameA - 8), kRetIntoB);
    scx.guest().Put<uint64_t>(a_sp + kFrameA, kRetIntoFork);
    scx.guest().Put<uint64_t>(t + kThreadSpOffset, frame.value);
    if (frame_at != nullptr) *frame_at = frame;
    return t;
  }

  // An arm64 task's stack top: task_pt_regs(task)->stackframe ends the chain (FINAL), and two
  // frame records under it return into B (PAC-signed) and ret_from_fork_asm. Returns the
  // address of the first record (what x29 or cpu_context.fp holds).
  Kva Arm64Chain(Kva stack) {
    testing::FakeGuest& g = scx.guest();
    const Kva top = stack + kStackSize;
    const Kva meta = top - kPtRegsSize + kStackframe;
    g.Put<uint64_t>(meta, 0);
    g.Put<uint64_t>(meta + 8, 0);
    g.Put<uint64_t>(meta + 16, 1);  // FRAME_META_TYPE_FINAL
    const Kva second = top - 0x400, first = top - 0x480;
    g.Put<uint64_t>(second, meta.value);
    g.Put<uint64_t>(second + 8, kRetIntoFork);
    g.Put<uint64_t>(first, second.value);
    g.Put<uint64_t>(first + 8, PacSigned(kRetIntoB));
    return first;
  }

  // A sleeping arm64 task: cpu_switch_to saved pc (into A), sp and fp.
  Kva SleepingArm64Task(int32_t pid) {
    Kva stack;
    Kva t = NewTask(pid, 0, &stack);
    const Kva fp = Arm64Chain(stack);
    scx.guest().Put<uint64_t>(t + kThreadSpOffset + kCtxFp, fp.value);
    scx.guest().Put<uint64_t>(t + kThreadSpOffset + kCtxSp, (fp - 0x40).value);
    scx.guest().Put<uint64_t>(t + kThreadSpOffset + kCtxPc, kRetIntoA);
    return t;
  }

  dump::PhaseTable Table() {
    dump::PhaseTable table =
        KernelWalkerPhases(WalkerSource{.view = scx.view(),
                                        .new_reader = [this] { return scx.guest().MakeReader(); },
                                        .owner = nullptr});
    bool replaced = false;
    for (auto& phase : table) {
      if (phase->name() != "stacks") continue;
      phase =
          MakeStacksPhase(StacksSource{.btf = resolver.get(),
                                       .symbols = symbols.get(),
                                       .pac_mask = arch == Arch::kArm64 ? kPacMask : 0,
                                       .new_reader = [this] { return scx.guest().MakeReader(); },
                                       .owner = nullptr});
      replaced = true;
    }
    EXPECT_TRUE(replaced) << "the kernel walker phases have no \"stacks\" phase";
    return table;
  }

  Arch arch;
  ScxWorld scx;
  testing::TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  std::unique_ptr<SymbolIndex> symbols;
};

struct Dump {
  FailureDumpReport report;
  std::vector<kfreeze::v1::PhaseTiming> timings;
};

// RunPhases (the freeze window), then the vCPU capture the freeze session would hand over, then
// RunDecodes (after the resume).
Dump RunDump(World& w, const std::vector<std::string>& sections,
             std::optional<dump::VcpuCapture> vcpus = std::nullopt) {
  const dump::PhaseTable table = w.Table();
  Dump d;
  const dump::Deadline deadline = dump::Deadline::FromNow(60s);
  dump::PhaseContext ctx(deadline, d.report, /*live=*/false);
  dump::RunPhases(table, sections, ctx, &d.timings);
  if (vcpus) ctx.outputs().Put(std::move(*vcpus));
  dump::RunDecodes(table, ctx, deadline, &d.timings);
  return d;
}

const TaskEnrichment* FindTask(const FailureDumpReport& r, Kva task) {
  for (const TaskEnrichment& t : r.task_enrichments()) {
    if (t.task_kva() == task.value) return &t;
  }
  return nullptr;
}

std::vector<std::string> Symbols(const TaskEnrichment& t) {
  std::vector<std::string> out;
  for (const auto& f : t.kernel_stack()) out.push_back(f.symbol());
  return out;
}

TEST(StacksPhase, ASleepingTaskIsUnwoundFromItsSwitchFrame) {
  World w;
  Kva frame;
  const Kva task = w.SleepingTask(10, &frame);
  const Dump d = RunDump(w, {"tasks", "stacks"});

  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr) << d.report.task_enrichments_unavailable();
  EXPECT_EQ(t->kernel_stack_origin(), "thread.sp");
  EXPECT_EQ(t->kernel_stack_unavailable(), "") << t->ShortDebugString();
  // Return addresses, named by the call before them (%pB) with the offset of the address itself.
  EXPECT_THAT(Symbols(*t), ::testing::ElementsAre("func_a+0x23/0x100", "func_b+0x37/0x100",
                                                  "ret_from_fork_asm+0x5/0x100"));
  ASSERT_EQ(t->kernel_stack_size(), 3);
  EXPECT_EQ(t->kernel_stack(0).pc(), kRetIntoA);
  EXPECT_EQ(t->kernel_stack(0).sp(), frame.value + 56);
  EXPECT_EQ(t->kernel_stack(1).sp(), frame.value + 56 + kFrameA);
  EXPECT_EQ(t->kernel_stack(1).via(), "orc");
  // The section itself: no "no task's stack could be unwound".
  EXPECT_THAT(d.report.kernel_stacks_unavailable(),
              ::testing::Not(HasSubstr("no task's stack could be unwound")));
  bool decode_timed = false;
  for (const auto& timing : d.timings) decode_timed |= timing.phase() == "stacks_decode";
  EXPECT_TRUE(decode_timed);
}

TEST(StacksPhase, ACorruptThreadSpIsATaskReason) {
  World w;
  const Kva good = w.SleepingTask(10);
  const Kva bad = w.SleepingTask(11);
  w.scx.guest().Put<uint64_t>(bad + kThreadSpOffset, 0xdead);
  const Dump d = RunDump(w, {"tasks", "stacks"});

  const TaskEnrichment* t = FindTask(d.report, bad);
  ASSERT_NE(t, nullptr);
  EXPECT_THAT(t->kernel_stack_unavailable(), HasSubstr("outside its stack"));
  EXPECT_EQ(t->kernel_stack_size(), 0);
  // The other task is unaffected.
  const TaskEnrichment* ok = FindTask(d.report, good);
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->kernel_stack_size(), 3);
  EXPECT_EQ(ok->kernel_stack_unavailable(), "");
}

TEST(StacksPhase, ARunningTaskStartsAtItsVcpusRip) {
  World w;
  Kva stack;
  const Kva task = w.NewTask(20, 1, &stack);
  w.scx.SetCurr(1, task);
  // Interrupted in B, whose caller A called it from ret_from_fork_asm.
  const Kva sp = stack + (kStackSize - 0x200);
  w.scx.guest().Put<uint64_t>(sp, kRetIntoA);
  w.scx.guest().Put<uint64_t>(sp + 8 + (kFrameA - 8), kRetIntoFork);
  dump::VcpuCapture vcpus;
  dump::VcpuRegisters regs;
  regs.cpu_index = 1;
  regs.pc = kFuncB + 0x10;
  regs.sp = sp.value;
  regs.x86.emplace();
  regs.x86->cs = 0x10;  // kernel mode
  regs.kernel_mode = true;
  vcpus.registers.push_back(regs);
  const Dump d = RunDump(w, {"tasks", "stacks"}, vcpus);

  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->is_running());
  EXPECT_EQ(t->kernel_stack_origin(), "vcpu 1");
  EXPECT_EQ(t->kernel_stack_unavailable(), "") << t->ShortDebugString();
  // The first pc is where the CPU was (%pS); the rest are return addresses.
  EXPECT_THAT(Symbols(*t), ::testing::ElementsAre("func_b+0x10/0x100", "func_a+0x23/0x100",
                                                  "ret_from_fork_asm+0x5/0x100"));
  ASSERT_GE(t->kernel_stack_size(), 1);
  EXPECT_EQ(t->kernel_stack(0).pc(), regs.pc);
  EXPECT_EQ(t->kernel_stack(0).sp(), sp.value);
  EXPECT_EQ(t->kernel_stack(0).via(), "regs");

  // Without the vCPU capture the running task gets a reason, not a stack.
  const Dump none = RunDump(w, {"tasks", "stacks"});
  const TaskEnrichment* t2 = FindTask(none.report, task);
  ASSERT_NE(t2, nullptr);
  EXPECT_EQ(t2->kernel_stack_size(), 0);
  EXPECT_THAT(t2->kernel_stack_unavailable(), HasSubstr("no vCPU registers"));
}

dump::VcpuRegisters Arm64Vcpu(uint32_t cpu, uint64_t pc, uint64_t sp, uint64_t x29, int el) {
  dump::VcpuRegisters regs;
  regs.cpu_index = cpu;
  regs.pc = pc;
  regs.sp = sp;
  regs.kernel_mode = el != 0;
  regs.arm64.emplace();
  regs.arm64->pc = pc;
  regs.arm64->sp = sp;
  regs.arm64->x[29] = x29;
  regs.arm64->el = el;
  return regs;
}

// arm64: no ORC; the walk follows frame records from thread.cpu_context, strips the PAC from
// saved return addresses and ends cleanly at the task's final record.
TEST(StacksPhase, ASleepingArm64TaskIsUnwoundFromItsCpuContext) {
  World w(/*with_orc=*/false, Arch::kArm64);
  const Kva task = w.SleepingArm64Task(10);
  const Dump d = RunDump(w, {"tasks", "stacks"});

  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr) << d.report.task_enrichments_unavailable();
  EXPECT_EQ(t->kernel_stack_origin(), "thread.cpu_context");
  EXPECT_EQ(t->kernel_stack_unavailable(), "") << t->ShortDebugString();
  EXPECT_THAT(Symbols(*t), ::testing::ElementsAre("func_a+0x23/0x100", "func_b+0x37/0x100",
                                                  "ret_from_fork_asm+0x5/0x100"));
  ASSERT_EQ(t->kernel_stack_size(), 3);
  EXPECT_EQ(t->kernel_stack(1).pc(), kRetIntoB);  // signed in the record, stripped here
  EXPECT_EQ(t->kernel_stack(1).via(), "frame_pointer");
  EXPECT_THAT(d.report.kernel_stacks_unavailable(), ::testing::Not(HasSubstr("ORC")));
}

TEST(StacksPhase, ARunningArm64TaskStartsAtItsVcpusPcAndX29) {
  World w(/*with_orc=*/false, Arch::kArm64);
  Kva stack0, stack1;
  const Kva kernel = w.NewTask(20, 0, &stack0);
  const Kva user = w.NewTask(21, 1, &stack1);
  w.scx.SetCurr(0, kernel);
  w.scx.SetCurr(1, user);
  const Kva fp = w.Arm64Chain(stack0);
  dump::VcpuCapture vcpus;
  vcpus.registers.push_back(Arm64Vcpu(0, kFuncB + 0x10, (fp - 0x40).value, fp.value, 1));
  vcpus.registers.push_back(Arm64Vcpu(1, 0x400768, (stack1 + 0x1000).value, 0, 0));
  const Dump d = RunDump(w, {"tasks", "stacks"}, vcpus);

  const TaskEnrichment* k = FindTask(d.report, kernel);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->kernel_stack_origin(), "vcpu 0");
  EXPECT_EQ(k->kernel_stack_unavailable(), "") << k->ShortDebugString();
  // The first pc is where the CPU was (%pS); the records' are return addresses.
  EXPECT_THAT(Symbols(*k), ::testing::ElementsAre("func_b+0x10/0x100", "func_b+0x37/0x100",
                                                  "ret_from_fork_asm+0x5/0x100"));
  const TaskEnrichment* u = FindTask(d.report, user);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->kernel_stack_size(), 0);
  EXPECT_THAT(u->kernel_stack_unavailable(), HasSubstr("running in user mode"));
}

// An arm64 vCPU next to an x86 kernel (or the reverse) is a VMM that lies: a reason, no stack
// read with the wrong rules.
TEST(StacksPhase, RegistersOfAnotherArchitectureAreRefused) {
  World w;
  Kva stack;
  const Kva task = w.NewTask(20, 0, &stack);
  w.scx.SetCurr(0, task);
  dump::VcpuCapture vcpus;
  vcpus.registers.push_back(Arm64Vcpu(0, kFuncB, (stack + 0x1000).value, 0, 1));
  const Dump d = RunDump(w, {"tasks", "stacks"}, vcpus);
  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kernel_stack_size(), 0);
  EXPECT_THAT(t->kernel_stack_unavailable(), HasSubstr("not of the kernel's architecture"));
}

TEST(StacksPhase, NoOrcSymbolsIsTheSectionsReason) {
  World w(/*with_orc=*/false);
  const Kva task = w.SleepingTask(10);
  const Dump d = RunDump(w, {"tasks", "stacks"});

  EXPECT_THAT(d.report.kernel_stacks_unavailable(), HasSubstr("no ORC tables"));
  EXPECT_THAT(d.report.kernel_stacks_unavailable(), HasSubstr("__start_orc_unwind_ip"));
  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kernel_stack_size(), 0);
}

TEST(StacksPhase, StacksWithoutTheTasksSectionSayWhy) {
  World w;
  const Kva task = w.SleepingTask(10);
  const Dump d = RunDump(w, {"stacks"});

  EXPECT_EQ(FindTask(d.report, task), nullptr);
  EXPECT_EQ(d.report.task_enrichments_unavailable(), kReasonSectionNotRequested);
  EXPECT_THAT(d.report.kernel_stacks_unavailable(), HasSubstr("tasks section"));
}

TEST(StacksPhase, UnrequestedStacksAreMarkedSo) {
  World w;
  const Kva task = w.SleepingTask(10);
  const Dump d = RunDump(w, {"tasks"});

  const TaskEnrichment* t = FindTask(d.report, task);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kernel_stack_size(), 0);
  EXPECT_EQ(d.report.kernel_stacks_unavailable(), kReasonSectionNotRequested);
}

}  // namespace
}  // namespace kfreeze::walkers::stacks
