#include "core/walkers/phases/kernel_walker_phases.h"

#include <string>
#include <utility>

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
#include "core/walkers/tasks/task_walker.h"

namespace kfreeze::walkers {
namespace {

using kfreeze::v1::FailureDumpReport;

// Attach-time state shared by every phase and probe of one attachment; immutable after Build.
struct WalkerSet {
  KernelPtr kernel;
  scx::ScxContext scx;
  tasks::TaskContext tasks;
  cpu_time::CpuTimeContext cpu_time;
  psi::PsiContext psi;
  numa::NumaContext numa;
  prog::ProgContext prog;
};

std::shared_ptr<const WalkerSet> Build(const KernelPtr& kernel) {
  if (kernel->offsets() == nullptr) return nullptr;
  auto set = std::make_shared<WalkerSet>();
  set->kernel = kernel;
  KernelView view{*kernel->offsets(), kernel->symbols(), kernel->percpu()};
  Reader reader = kernel->NewReader();
  set->scx = scx::BuildScxContext(view, reader);
  set->tasks = tasks::BuildTaskContext(*kernel->offsets(), set->scx);
  set->cpu_time = cpu_time::BuildCpuTimeContext(view);
  set->psi = psi::BuildPsiContext(view);
  set->numa = numa::BuildNumaContext(view);
  set->prog = prog::BuildProgContext(view);
  return set;
}

std::string NoBtfReason(const KernelPtr& kernel) {
  return absl::StrCat("kernel BTF unavailable: ", kernel->btf_status().message());
}

class ProbesImpl : public ScxTriggerProbes {
 public:
  explicit ProbesImpl(std::shared_ptr<const WalkerSet> set) : set_(std::move(set)) {}

  absl::StatusOr<dump::ScxExitProbe> ProbeExit() override {
    Reader reader = set_->kernel->NewReader();
    absl::StatusOr<scx::ExitProbeResult> r = scx::ProbeExitKind(reader, set_->scx);
    if (!r.ok()) return r.status();
    return dump::ScxExitProbe{r->attached, r->sched_kva, r->exit_kind, r->exit_info_written};
  }
  absl::StatusOr<dump::RunnableAgeProbe> ProbeRunnableAge() override {
    Reader reader = set_->kernel->NewReader();
    absl::StatusOr<scx::RunnableAgeResult> r = scx::ScanRunnableAges(reader, set_->scx);
    if (!r.ok()) return r.status();
    return dump::RunnableAgeProbe{r->jiffies, r->hz, r->watchdog_timeout_jiffies,
                                  r->max_age_jiffies, r->tasks_scanned};
  }
  absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters() override {
    Reader reader = set_->kernel->NewReader();
    return scx::SampleEventCounters(reader, set_->scx);
  }

 private:
  std::shared_ptr<const WalkerSet> set_;
};

}  // namespace

std::vector<std::shared_ptr<dump::DumpPhase>> KernelWalkerPhases(const KernelPtr& kernel,
                                                                 const WalkerOptions& options) {
  std::shared_ptr<const WalkerSet> set = Build(kernel);
  std::string no_btf = set ? "" : NoBtfReason(kernel);
  std::vector<std::shared_ptr<dump::DumpPhase>> phases;
  phases.push_back(dump::MakePhase(
      "scx",
      [set, no_btf](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        scx::CaptureScx(reader, set->scx, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_scx_walker_unavailable(std::string(reason));
      }));
  phases.push_back(dump::MakePhase(
      "tasks",
      [set, no_btf](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        tasks::CaptureTasks(reader, set->tasks, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_task_enrichments_unavailable(std::string(reason));
      }));
  phases.push_back(dump::MakePhase(
      "prog_stats",
      [set, no_btf](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        prog::CaptureProgStats(reader, set->prog, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_prog_runtime_stats_unavailable(std::string(reason));
      }));
  phases.push_back(dump::MakePhase(
      "per_cpu_time",
      [set, no_btf](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        cpu_time::CaptureCpuTime(reader, set->cpu_time, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_per_cpu_time_unavailable(std::string(reason));
      }));
  phases.push_back(dump::MakePhase(
      "psi",
      [set, no_btf, options](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        psi::CapturePsi(reader, set->psi, {.root_path = options.psi_root}, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_cgroup_psi_unavailable(std::string(reason));
      }));
  phases.push_back(dump::MakePhase(
      "numa",
      [set, no_btf](dump::PhaseContext& ctx) -> absl::Status {
        if (!set) return absl::FailedPreconditionError(no_btf);
        Reader reader = set->kernel->NewReader();
        reader.SetBudget(&ctx.budget());
        numa::CaptureNuma(reader, set->numa, ctx.report());
        return absl::OkStatus();
      },
      [](FailureDumpReport& report, absl::string_view reason) {
        report.set_per_node_numa_unavailable(std::string(reason));
      }));
  return phases;
}

std::unique_ptr<ScxTriggerProbes> MakeScxTriggerProbes(const KernelPtr& kernel) {
  std::shared_ptr<const WalkerSet> set = Build(kernel);
  if (!set) return nullptr;
  return std::make_unique<ProbesImpl>(std::move(set));
}

}  // namespace kfreeze::walkers
