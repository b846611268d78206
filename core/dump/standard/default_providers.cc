// The single list of what a standard dump contains, in run order. Each walker family exposes a
// PhaseProvider from its own library; a new family is added here (and its library to
// CMakeLists.txt).
#include "core/dump/standard/standard_attachment.h"
#include "core/walkers/phases/kernel_walker_phases.h"
#include "core/walkers/phases/maps_phase.h"

namespace kfreeze::dump {

PhaseProviders DefaultProviders() {
  PhaseProviders providers;
  // BPF maps first, as in ktstr: the scheduler's own state is what a stall dump is for.
  providers.phases.push_back([](const KernelPtr& k) { return walkers::maps::MapsPhases(k); });
  // Kernel walkers: scx, tasks, prog_stats, per_cpu_time, psi, numa; and the
  // auto-trigger probes (exit_kind, runnable ages).
  providers.phases.push_back([](const KernelPtr& k) { return walkers::KernelWalkerPhases(k); });
  providers.probes = [](const KernelPtr& k) -> std::unique_ptr<TriggerProbes> {
    return walkers::MakeScxTriggerProbes(k);
  };
  providers.features = [](const KernelPtr& k) { return walkers::DescribeScxKernel(k); };
  return providers;
}

}  // namespace kfreeze::dump
