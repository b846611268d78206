// BM_ScxPhase / BM_TasksPhase / BM_ScxAndTasks: one freeze's sched_ext walk on a synthetic guest
// with `tasks` tasks spread over 8 CPUs' runnable lists, the global DSQ and 64 user DSQs.
// Counters: tasks/s and the bytes-equivalent floor (a memcpy of every task_struct window read).
#include <cstring>
#include <memory>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/mem/guest_snapshot.h"
#include "core/walkers/scx/scx_capture.h"
#include "core/walkers/tasks/task_walker.h"
#include "tests/walkers/support/scx_world.h"

namespace {

using kfreeze::Kva;
using kfreeze::Reader;
using kfreeze::testing::ScxWorld;
using kfreeze::testing::ScxWorldOptions;
namespace scx = kfreeze::walkers::scx;
namespace tasks = kfreeze::walkers::tasks;

constexpr uint32_t kCpus = 8;
constexpr int kUserDsqs = 64;

std::unique_ptr<ScxWorld> MakeWorld(int n) {
  ScxWorldOptions o;
  o.cpus = kCpus;
  o.user_dsq_buckets = 64;
  auto w = std::make_unique<ScxWorld>(o);
  w->SetJiffies(1000000);
  w->AttachScheduler("bench_sched");
  std::vector<Kva> dsqs;
  for (int i = 0; i < kUserDsqs; ++i) dsqs.push_back(w->UserDsq(0x1000 + i));
  for (int i = 0; i < n; ++i) {
    Kva t = w->NewTask(i + 1, "bench_task");
    w->AddToScxTasks(t);
    w->SetRunnableAt(t, 1000000 - (i % 500));
    switch (i % 4) {
      case 0:
        w->AddRunnable(i % kCpus, t);
        break;
      case 1:
        w->Enqueue(w->GlobalDsq(), t);
        break;
      case 2:
        w->Enqueue(dsqs[i % kUserDsqs], t);
        break;
      default:
        break;  // sleeping: only on scx_tasks
    }
    if (i < static_cast<int>(kCpus)) w->SetCurr(i, t);
  }
  return w;
}

void BM_ScxPhase(benchmark::State& state) {
  auto w = MakeWorld(static_cast<int>(state.range(0)));
  Reader reader = w->guest().MakeReader();
  scx::ScxContext ctx = scx::BuildScxContext(w->view(), reader);
  for (auto _ : state) {
    kfreeze::v1::FailureDumpReport report;
    scx::CaptureScx(reader, ctx, report);
    benchmark::DoNotOptimize(report.dsq_states_size());
  }
  state.counters["tasks"] = static_cast<double>(state.range(0));
}

// A world with `n` tasks, its scx walk done once: what the tasks phase starts from.
struct TasksSetup {
  explicit TasksSetup(int n)
      : world(MakeWorld(n)),
        reader(world->guest().MakeReader()),
        sctx(scx::BuildScxContext(world->view(), reader)),
        tctx(tasks::BuildTaskContext(world->view().btf, sctx)),
        refs(scx::CaptureScx(reader, sctx, base)) {}
  // One tasks walk over a copy of the scx phase's report.
  void Walk() {
    kfreeze::v1::FailureDumpReport report = base;
    tasks::CaptureTasks(reader, tctx, refs, report);
    benchmark::DoNotOptimize(report.task_enrichments_size());
  }
  std::unique_ptr<ScxWorld> world;
  Reader reader;
  scx::ScxContext sctx;
  tasks::TaskContext tctx;
  kfreeze::v1::FailureDumpReport base;
  scx::ScxTaskRefs refs;
};

void BM_TasksPhase(benchmark::State& state) {
  TasksSetup setup(static_cast<int>(state.range(0)));
  for (auto _ : state) setup.Walk();
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// The same walk as the copy stage runs it in the freeze window: a recording Reader marks every
// page the walk touches and Seal copies them into a fresh snapshot (what a dump pays while the
// guest stands still).
void BM_TasksPhaseCopy(benchmark::State& state) {
  TasksSetup setup(static_cast<int>(state.range(0)));
  uint64_t bytes = 0;
  for (auto _ : state) {
    kfreeze::GuestSnapshot snapshot(uint64_t{1} << 30);
    setup.reader.UseSnapshot(&snapshot, kfreeze::SnapshotMode::kRecord);
    setup.Walk();
    benchmark::DoNotOptimize(snapshot.Seal());
    bytes = snapshot.bytes();
    setup.reader.UseSnapshot(nullptr, kfreeze::SnapshotMode::kDirect);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.counters["window_bytes"] = static_cast<double>(bytes);
}

// The floor: copying each task's whole task_struct from guest RAM once (what the walker's single
// windowed read per task approaches).
void BM_TaskStructMemcpyFloor(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(n * kfreeze::testing::layout::kTaskSize), dst(src.size());
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_ScxPhase)->Arg(64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TasksPhase)->Arg(64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TasksPhaseCopy)->Arg(64)->Arg(1024)->Arg(4096)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TaskStructMemcpyFloor)->Arg(4096)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
