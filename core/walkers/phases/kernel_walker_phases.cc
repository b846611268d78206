#include "core/walkers/phases/kernel_walker_phases.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/walkers/common/kernel_view.h"
#include "core/walkers/cpu_time/cpu_time.h"
#include "core/walkers/numa/numa.h"
#include "core/walkers/prog/prog_stats.h"
#include "core/walkers/psi/psi.h"
#include "core/walkers/scx/scx_capture.h"
#include "core/walkers/scx/scx_context.h"
#include "core/walkers/scx/scx_probes.h"
#include "core/walkers/stacks/stacks_phase.h"
#include "core/walkers/tasks/task_stack_refs.h"
#include "core/walkers/tasks/task_walker.h"

namespace kfreeze::walkers {
namespace {

using kfreeze::v1::FailureDumpReport;

// Attach-time state shared by every phase and probe of one attachment; immutable after Build.
struct WalkerSet {
  std::shared_ptr<const void> owner;  // keeps the view's referents alive
  std::function<Reader()> new_reader;
  const OffsetResolver* btf = nullptr;
  const SymbolIndex* symbols = nullptr;
  uint64_t pac_mask = 0;
  scx::ScxContext scx;
  tasks::TaskContext tasks;
  cpu_time::CpuTimeContext cpu_time;
  psi::PsiContext psi;
  numa::NumaContext numa;
  prog::ProgContext prog;
};

std::shared_ptr<const WalkerSet> Build(const WalkerSource& source) {
  auto set = std::make_shared<WalkerSet>();
  set->owner = source.owner;
  set->new_reader = source.new_reader;
  set->pac_mask = source.pac_mask;
  const KernelView& view = source.view;
  set->btf = &view.btf;
  set->symbols = &view.symbols;
  Reader reader = source.new_reader();
  set->scx = scx::BuildScxContext(view, reader);
  set->tasks = tasks::BuildTaskContext(view.btf, set->scx);
  set->cpu_time = cpu_time::BuildCpuTimeContext(view);
  set->psi = psi::BuildPsiContext(view);
  set->numa = numa::BuildNumaContext(view);
  set->prog = prog::BuildProgContext(view);
  return set;
}

std::shared_ptr<const WalkerSet> Build(const KernelPtr& kernel) {
  if (kernel->offsets() == nullptr) return nullptr;
  return Build(WalkerSource{
      .view = {*kernel->offsets(), kernel->symbols(), kernel->percpu()},
      .new_reader = [kernel] { return kernel->NewReader(); },
      .owner = kernel,
      .pac_mask = kernel->vmcoreinfo().arm64.pac_mask,
  });
}

// A Reader on the guest that stops when the dump's budget or deadline is spent.
Reader BudgetedReader(const WalkerSet& set, dump::PhaseContext& ctx) {
  Reader reader = set.new_reader();
  ctx.Bind(reader);
  return reader;
}

std::string NoBtfReason(const KernelPtr& kernel) {
  return absl::StrCat("kernel BTF unavailable: ", kernel->btf_status().message());
}

class ProbesImpl : public ScxTriggerProbes {
 public:
  explicit ProbesImpl(std::shared_ptr<const WalkerSet> set) : set_(std::move(set)) {}

  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override {
    Reader reader = set_->new_reader();
    absl::StatusOr<scx::ExitProbeResult> r = scx::ProbeExitKind(reader, set_->scx);
    if (!r.ok()) return r.status();
    return dump::ScxExitProbe{r->attached, r->sched_kva, r->exit_kind, r->exit_info_written,
                              r->exit_kind_kva};
  }
  absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(uint64_t sched_kva) override {
    Reader reader = set_->new_reader();
    return scx::ReadExitInfoOf(reader, set_->scx, sched_kva);
  }
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    Reader reader = set_->new_reader();
    absl::StatusOr<scx::RunnableAgeResult> r = scx::ScanRunnableAges(reader, set_->scx);
    if (!r.ok()) return r.status();
    return dump::RunnableAgeProbe{r->jiffies, r->hz, r->watchdog_timeout_jiffies,
                                  r->max_age_jiffies, r->tasks_scanned};
  }
  absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters() override {
    Reader reader = set_->new_reader();
    return scx::SampleEventCounters(reader, set_->scx);
  }

 private:
  std::shared_ptr<const WalkerSet> set_;
};

// `set` is null when the kernel has no BTF: every phase then fails with `no_btf`.
dump::PhaseTable Phases(std::shared_ptr<const WalkerSet> set, std::string no_btf,
                        const WalkerOptions& options) {
  dump::PhaseTable phases;
  // One phase per walker: `capture` fills the section, `unavailable` names its reason field.
  auto add = [&](std::string name, std::vector<std::string> needs,
                 std::function<void(const WalkerSet&, Reader&, dump::PhaseContext&)> capture,
                 void (FailureDumpReport::*unavailable)(const std::string&)) {
    phases.push_back(dump::MakePhase(
        std::move(name), std::move(needs),
        [set, no_btf, capture](dump::PhaseContext& ctx) -> absl::Status {
          if (!set) return absl::FailedPreconditionError(no_btf);
          Reader reader = BudgetedReader(*set, ctx);
          capture(*set, reader, ctx);
          return absl::OkStatus();
        },
        [unavailable](FailureDumpReport& report, absl::string_view reason) {
          (report.*unavailable)(std::string(reason));
        }));
  };
  add(
      "scx", {},
      [](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        ctx.outputs().Put(scx::CaptureScx(r, s.scx, ctx.report()));
      },
      &FailureDumpReport::set_scx_walker_unavailable);
  add(
      "tasks", {"scx"},
      [](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        const scx::ScxTaskRefs* refs = ctx.outputs().Get<scx::ScxTaskRefs>();
        ctx.outputs().Put(
            tasks::CaptureTasks(r, s.tasks, refs ? *refs : scx::ScxTaskRefs{}, ctx.report()));
      },
      &FailureDumpReport::set_task_enrichments_unavailable);
  if (set) {
    phases.push_back(stacks::MakeStacksPhase({.btf = set->btf,
                                              .symbols = set->symbols,
                                              .pac_mask = set->pac_mask,
                                              .new_reader = set->new_reader,
                                              .owner = set}));
  } else {
    add(
        "stacks", {"tasks"}, [](const WalkerSet&, Reader&, dump::PhaseContext&) {},
        &FailureDumpReport::set_kernel_stacks_unavailable);
  }
  add(
      "prog_stats", {},
      [](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        prog::CaptureProgStats(r, s.prog, ctx.report());
      },
      &FailureDumpReport::set_prog_runtime_stats_unavailable);
  add(
      "per_cpu_time", {},
      [](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        cpu_time::CaptureCpuTime(r, s.cpu_time, ctx.report());
      },
      &FailureDumpReport::set_per_cpu_time_unavailable);
  add(
      "psi", {},
      [psi_root = options.psi_root](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        psi::CapturePsi(r, s.psi, {.root_path = psi_root}, ctx.report());
      },
      &FailureDumpReport::set_cgroup_psi_unavailable);
  add(
      "numa", {},
      [](const WalkerSet& s, Reader& r, dump::PhaseContext& ctx) {
        numa::CaptureNuma(r, s.numa, ctx.report());
      },
      &FailureDumpReport::set_per_node_numa_unavailable);
  return phases;
}

}  // namespace

dump::PhaseTable KernelWalkerPhases(const KernelPtr& kernel, const WalkerOptions& options) {
  std::shared_ptr<const WalkerSet> set = Build(kernel);
  return Phases(set, set ? "" : NoBtfReason(kernel), options);
}

dump::PhaseTable KernelWalkerPhases(const WalkerSource& source, const WalkerOptions& options) {
  return Phases(Build(source), "", options);
}

std::unique_ptr<ScxTriggerProbes> MakeScxTriggerProbes(const KernelPtr& kernel) {
  std::shared_ptr<const WalkerSet> set = Build(kernel);
  if (!set) return nullptr;
  return std::make_unique<ProbesImpl>(std::move(set));
}

std::optional<kfreeze::v1::ScxKernelFeatures> DescribeScxKernel(const KernelPtr& kernel) {
  if (kernel->offsets() == nullptr) return std::nullopt;
  Reader reader = kernel->NewReader();
  const KernelView view{*kernel->offsets(), kernel->symbols(), kernel->percpu()};
  return scx::BuildScxContext(view, reader).features;
}

}  // namespace kfreeze::walkers
