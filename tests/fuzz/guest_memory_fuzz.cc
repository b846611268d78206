// libFuzzer over synthetic guests: each input is a list of byte patches (guest_patches.h) over
// (a) a GuestImage's VMCOREINFO page, kallsyms tables and page-table root, and (b) the objects
// of five walker guests (a sched_ext world with tasks and DSQs, a BPF map world, a cgroup/PSI
// hierarchy, a NUMA node_data world, a prog_idr world). Then attach itself and every dump phase
// (maps, scx, tasks, stacks, prog_stats, per_cpu_time, psi, numa) run on the mutated memory
// through RunPhases under the dump deadline and the default ReadBudget, and the decoding phases
// (stacks: ORC tables and task stacks in the sched_ext world) through RunDecodes. Per input: the
// whole walk ends within kInputWall and the peak RSS grows by less than 256 MiB (what a hostile
// guest may cost), else the fuzzer aborts.
#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/dump/deadline.h"
#include "core/dump/dump_phase.h"
#include "core/dump/run_phases.h"
#include "core/kernel/kernel_context.h"
#include "core/walkers/cpu_time/cpu_time.h"
#include "core/walkers/maps/map_walker.h"
#include "core/walkers/numa/numa.h"
#include "core/walkers/phases/kernel_walker_phases.h"
#include "core/walkers/phases/maps_phase.h"
#include "core/walkers/prog/prog_stats.h"
#include "core/walkers/psi/psi.h"
#include "core/walkers/scx/scx_capture.h"
#include "core/walkers/scx/scx_context.h"
#include "core/walkers/stacks/stacks_phase.h"
#include "core/walkers/tasks/task_stack_refs.h"
#include "core/walkers/tasks/task_walker.h"
#include "tests/fuzz/guest_patches.h"
#include "tests/support/guest_image.h"
#include "tests/walkers/maps/fake_bpf.h"
#include "tests/walkers/support/numa_world.h"
#include "tests/walkers/support/prog_world.h"
#include "tests/walkers/support/psi_world.h"
#include "tests/walkers/support/scx_world.h"
#include "tests/walkers/support/test_btf.h"

namespace kfreeze::fuzz {
namespace {

using namespace std::chrono_literals;
using kfreeze::v1::FailureDumpReport;

constexpr auto kDumpDeadline = 500ms;
// The deadline plus the slack a sanitized build needs to notice it and unwind.
constexpr auto kInputWall = 5s;
constexpr uint64_t kRssBound = 256ull << 20;

// The stacks phase's view of the sched_ext world: its own BTF (task_struct.thread.sp, which
// ScxWorld does not declare) and symbols (text and a 6.4-layout ORC table placed in that guest).
// Each given task sleeps in a switch frame returning into func_a, then func_b, then
// ret_from_fork_asm (END_OF_STACK), all CALL sp+8 frames.
struct StacksFixture {
  static constexpr uint32_t kThreadSp = 600;  // unused by ScxWorld's task_struct layout
  static constexpr uint64_t kText = testing::kFakeDirectMapBase + (64ull << 20);

  void Build(testing::ScxWorld& scx, const std::vector<Kva>& tasks) {
    testing::FakeGuest& g = scx.guest();
    btf.Struct("thread_struct", 16, {{"sp", "u64", 0}});
    btf.Struct("task_struct", 1024, {{"thread", "thread_struct", kThreadSp}});
    resolver = btf.MakeResolver();
    // A rule every 0x40 bytes up to _etext (kText + 0x400), whose row is the terminator.
    constexpr size_t kRows = 17;
    const Kva ips = g.Alloc(4 * kRows, 8), orc = g.Alloc(6 * kRows, 8);
    for (size_t i = 0; i < kRows; ++i) {
      const uint64_t ip = kText + 0x40 * i, place = ips.value + 4 * i;
      g.Put<int32_t>(Kva(place), static_cast<int32_t>(ip - place));
      // s16 sp_offset, s16 bp_offset, u16 {sp_reg:4 bp_reg:4 type:3 signal:1}; SP=5, CALL=2.
      uint16_t sp_offset = 8, bits = 5 | (2 << 8);
      if (ip == kText + 0x300) sp_offset = 0, bits = 1 << 8;  // END_OF_STACK
      if (i == kRows - 1) sp_offset = 0, bits = 0;            // UNDEFINED
      g.Put<uint16_t>(orc + 6 * i, sp_offset);
      g.Put<uint16_t>(orc + 6 * i + 4, bits);
    }
    symbols = std::make_unique<SymbolIndex>(
        std::vector<SymbolIndex::Entry>{{"_stext", kText, 'T'},
                                        {"func_a", kText + 0x100, 'T'},
                                        {"func_b", kText + 0x200, 'T'},
                                        {"ret_from_fork_asm", kText + 0x300, 'T'},
                                        {"_etext", kText + 0x400, 'T'},
                                        {"__start_orc_unwind_ip", ips.value, 'D'},
                                        {"__stop_orc_unwind_ip", ips.value + 4 * kRows, 'D'},
                                        {"__start_orc_unwind", orc.value, 'D'}});
    for (Kva t : tasks) {
      const Kva stack = scx.GiveStack(t);
      const Kva frame = stack + (16 * 1024 - 0x100);  // struct inactive_task_frame
      g.Put<uint64_t>(frame + 48, kText + 0x123);     // ret_addr
      g.Put<uint64_t>(frame + 56, kText + 0x237);
      g.Put<uint64_t>(frame + 64, kText + 0x305);
      g.Put<uint64_t>(t + kThreadSp, frame.value);
    }
  }

  testing::TestBtf btf;
  std::unique_ptr<OffsetResolver> resolver;
  std::unique_ptr<SymbolIndex> symbols;
};

std::span<uint8_t> Objects(testing::FakeGuest& g) {
  return g.raw().subspan(4096, g.used_bytes() - 4096);
}

struct Guests {
  Guests() {
    testing::GuestImageBuilder b;
    image = std::make_unique<testing::GuestImage>(b.Build());
    const auto& truth = image->truth();
    image_bytes = truth.ram_bytes;
    void* m = mmap(nullptr, image_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, image->fd(), 0);
    if (m == MAP_FAILED) std::abort();
    image_ram = static_cast<uint8_t*>(m);
    std::vector<std::span<uint8_t>> regions;
    auto phys = [&](Pa pa, uint64_t len) {
      regions.push_back(std::span<uint8_t>(image_ram + pa.value, len));
    };
    phys(truth.vmcoreinfo_pa, 4096);
    phys(truth.root, 4096);
    for (const char* sym : {"kallsyms_offsets", "kallsyms_names", "kallsyms_markers",
                            "kallsyms_token_table", "kallsyms_token_index", "kallsyms_num_syms"}) {
      auto it = truth.symbols.find(sym);
      if (it == truth.symbols.end()) continue;
      if (std::optional<Pa> pa = image->Translate(it->second)) phys(*pa, 4096);
    }

    scx.SetJiffies(10000);
    scx.AttachScheduler("fuzz_sched", 500);
    std::vector<Kva> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(scx.NewTask(100 + i, "task"));
    for (Kva t : tasks) scx.AddToScxTasks(t);
    scx.SetCurr(0, tasks[0]);
    scx.AddRunnable(0, tasks[1]);
    scx.Enqueue(scx.LocalDsq(0), tasks[1]);
    scx.Enqueue(scx.GlobalDsq(), tasks[2]);
    scx.Enqueue(scx.UserDsq(7), tasks[3]);
    scx.SetExit(1026, "stall", "watchdog", "dump", {0x1, 0x2});
    // tasks[0] is running with no vCPU registers (a reason); the others sleep on their stacks.
    stacks.Build(scx, tasks);

    testing::FakeMapSpec spec;
    spec.name = "arr";
    spec.type = 2;  // BPF_MAP_TYPE_ARRAY
    spec.max_entries = 4;
    bpf.AddArray(1, spec, std::vector<uint8_t>(16, 0xab));
    spec.name = "hash";
    spec.type = 1;  // BPF_MAP_TYPE_HASH
    bpf.AddHash(2, spec, 4, {{std::vector<uint8_t>(4, 1), std::vector<uint8_t>(4, 2)}});
    bpf.BuildIdr();

    Kva a = psi.AddChild(psi.root, "system.slice", 200);
    psi.AddChild(a, "ssh.service", 300);
    psi.AddChild(psi.root, "user.slice", 400);

    numa.Populate(0, 1, 5000, 7, 0);
    numa.Populate(1, 2, 42, 0, 2);
    const Kva bss = prog.Map("sched.bss");
    prog.Prog(0, testing::prog_fixture::kStructOps, "sched_enqueue", {bss}, 10);
    prog.Prog(1, testing::prog_fixture::kTracing, "tracer", {}, 3);

    regions.push_back(Objects(scx.guest()));
    regions.push_back(Objects(bpf.guest()));
    regions.push_back(Objects(psi.g));
    regions.push_back(Objects(numa.g));
    regions.push_back(Objects(prog.g));
    patches = std::make_unique<PatchSet>(std::move(regions));
  }

  // The walker guests' phases, with their attach-time contexts built from the mutated memory.
  dump::PhaseTable WalkerPhases() {
    dump::PhaseTable t;
    auto none = [](FailureDumpReport&, absl::string_view) {};
    auto scx_view = scx.view();
    auto scx_ctx = std::make_shared<walkers::scx::ScxContext>();
    {
      Reader r = scx.guest().MakeReader();
      *scx_ctx = walkers::scx::BuildScxContext(scx_view, r);
    }
    auto budgeted = [](testing::FakeGuest& g, dump::PhaseContext& ctx) {
      Reader r = g.MakeReader();
      r.SetBudget(&ctx.budget());
      return r;
    };
    t.push_back(dump::MakePhase(
        "maps",
        [this, budgeted](dump::PhaseContext& ctx) {
          walkers::maps::MapWalker walker({.resolver = &bpf.resolver(),
                                           .vmlinux = bpf.vmlinux(),
                                           .percpu = &bpf.percpu(),
                                           .map_idr = bpf.map_idr(),
                                           .caps = {}});
          Reader r = budgeted(bpf.guest(), ctx);
          return walker.Dump(r, ctx.report());
        },
        none));
    t.push_back(dump::MakePhase(
        "scx",
        [this, scx_ctx, budgeted](dump::PhaseContext& ctx) {
          Reader r = budgeted(scx.guest(), ctx);
          ctx.outputs().Put(walkers::scx::CaptureScx(r, *scx_ctx, ctx.report()));
          return absl::OkStatus();
        },
        none));
    t.push_back(dump::MakePhase(
        "tasks", {"scx"},
        [this, scx_ctx, budgeted](dump::PhaseContext& ctx) {
          walkers::tasks::TaskContext tc =
              walkers::tasks::BuildTaskContext(scx.view().btf, *scx_ctx);
          Reader r = budgeted(scx.guest(), ctx);
          const auto* refs = ctx.outputs().Get<walkers::scx::ScxTaskRefs>();
          ctx.outputs().Put(walkers::tasks::CaptureTasks(
              r, tc, refs ? *refs : walkers::scx::ScxTaskRefs{}, ctx.report()));
          return absl::OkStatus();
        },
        none));
    t.push_back(
        walkers::stacks::MakeStacksPhase({.btf = stacks.resolver.get(),
                                          .symbols = stacks.symbols.get(),
                                          .new_reader = [this] { return scx.guest().MakeReader(); },
                                          .owner = nullptr}));
    t.push_back(dump::MakePhase(
        "prog_stats",
        [this, budgeted](dump::PhaseContext& ctx) {
          Reader r = budgeted(prog.g, ctx);
          walkers::prog::CaptureProgStats(r, walkers::prog::BuildProgContext(prog.view()),
                                          ctx.report());
          return absl::OkStatus();
        },
        none));
    t.push_back(dump::MakePhase(
        "per_cpu_time",  // on the sched_ext world: its BTF lacks kernel_cpustat (the missing path)
        [this, budgeted](dump::PhaseContext& ctx) {
          Reader r = budgeted(scx.guest(), ctx);
          walkers::cpu_time::CaptureCpuTime(r, walkers::cpu_time::BuildCpuTimeContext(scx.view()),
                                            ctx.report());
          return absl::OkStatus();
        },
        none));
    t.push_back(dump::MakePhase(
        "numa",
        [this, budgeted](dump::PhaseContext& ctx) {
          Reader r = budgeted(numa.g, ctx);
          walkers::numa::CaptureNuma(r, walkers::numa::BuildNumaContext(numa.view()), ctx.report());
          return absl::OkStatus();
        },
        none));
    t.push_back(dump::MakePhase(
        "psi",
        [this, budgeted](dump::PhaseContext& ctx) {
          Reader r = budgeted(psi.g, ctx);
          walkers::psi::CapturePsi(r, walkers::psi::BuildPsiContext(psi.view()), {}, ctx.report());
          return absl::OkStatus();
        },
        none));
    return t;
  }

  std::unique_ptr<testing::GuestImage> image;
  uint8_t* image_ram = nullptr;
  uint64_t image_bytes = 0;
  testing::ScxWorld scx;
  StacksFixture stacks;
  testing::FakeBpfKernel bpf;
  testing::PsiWorld psi;
  testing::numa_fixture::NumaWorld numa{2};
  testing::prog_fixture::ProgWorld prog;
  std::unique_ptr<PatchSet> patches;
};

void RunTable(const dump::PhaseTable& table, const InputBounds& bounds, const char* what) {
  FailureDumpReport report;
  dump::Deadline deadline = dump::Deadline::FromNow(kDumpDeadline);
  dump::PhaseContext ctx(deadline, report, /*live=*/false);
  std::vector<kfreeze::v1::PhaseTiming> timings;
  dump::RunPhases(table, {}, ctx, &timings);
  dump::RunDecodes(table, ctx, deadline, &timings);
  (void)report.ByteSizeLong();
  bounds.Check(what);
}

}  // namespace
}  // namespace kfreeze::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kfreeze::fuzz;
  static Guests* guests = new Guests();
  InputBounds bounds(kInputWall, kRssBound);
  guests->patches->Apply(ParsePatches(data, size));
  {
    auto kernel = kfreeze::KernelContext::Attach(guests->image->attach_options());
    bounds.Check("attach");
    if (kernel.ok()) {
      kfreeze::dump::PhaseTable table = kfreeze::walkers::KernelWalkerPhases(*kernel);
      table.insert(table.begin(), kfreeze::walkers::maps::MakeMapsPhase(*kernel));
      RunTable(table, bounds, "attached image phases");
    }
  }
  RunTable(guests->WalkerPhases(), bounds, "walker guest phases");
  guests->patches->Restore();
  return 0;
}
