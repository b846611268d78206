// The single list of what a standard dump contains, in run order. Each walker family exposes a
// PhaseProvider from its own library; add it here (and its library to CMakeLists.txt) when it
// lands.
#include "core/dump/standard/standard_attachment.h"
#include "core/walkers/maps/maps_phase.h"
#include "core/walkers/phases/kernel_walker_phases.h"

namespace kfreeze::dump {

PhaseProviders DefaultProviders() {
  PhaseProviders providers;
  // BPF maps (issue 5) first, as in ktstr: the scheduler's own state is what a stall dump is for.
  providers.phases.push_back([](const KernelPtr& k) { return walkers::maps::MapsPhases(k); });
  // Kernel walkers (issue 7): scx, tasks, prog_stats, per_cpu_time, psi, numa; and the
  // auto-trigger probes (exit_kind, runnable ages).
  providers.phases.push_back([](const KernelPtr& k) { return walkers::KernelWalkerPhases(k); });
  providers.probes = [](const KernelPtr& k) -> std::unique_ptr<TriggerProbes> {
    return walkers::MakeScxTriggerProbes(k);
  };
  return providers;
}

}  // namespace kfreeze::dump
