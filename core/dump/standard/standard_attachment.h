// The real KernelAttachment: KernelContext::Attach (core/kernel) plus the phases and trigger
// probes every walker family contributes.
//
// Plugging a walker in: expose a PhaseProvider (a function of the attached kernel returning the
// family's phases) from the walker's own library and add it to DefaultProviders() in
// default_providers.cc, the single list of what a standard dump contains.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/dump/attachment.h"
#include "core/dump/dump_phase.h"
#include "core/dump/trigger_probes.h"
#include "core/kernel/kernel_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

using KernelPtr = std::shared_ptr<const KernelContext>;
using PhaseProvider = std::function<std::vector<std::shared_ptr<DumpPhase>>(const KernelPtr&)>;
using ProbeProvider = std::function<std::unique_ptr<TriggerProbes>(const KernelPtr&)>;

// What an attached kernel's sched_ext looks like (Target.kernel_features); nullopt = unknown.
using FeaturesProvider =
    std::function<std::optional<kfreeze::v1::ScxKernelFeatures>(const KernelPtr&)>;

struct PhaseProviders {
  std::vector<PhaseProvider> phases;  // in run order
  ProbeProvider probes;               // may be empty: no auto-triggers
  FeaturesProvider features;          // may be empty
};

// What kfreeze ships.
PhaseProviders DefaultProviders();

// Attaches to the spec's RAM (or discovers it from the VMM pid) and binds the providers' phases.
absl::StatusOr<std::shared_ptr<KernelAttachment>> AttachStandard(const AttachSpec& spec,
                                                                 const PhaseProviders& providers);

// An Attacher for the daemon: AttachStandard with fixed providers.
Attacher StandardAttacher(PhaseProviders providers);

// The file to open for a VMM's shared guest RAM: its largest shared file mapping in
// /proc/PID/maps (a memfd is reached through /proc/PID/fd/N). NotFound when it has none.
absl::StatusOr<std::string> DiscoverRamFile(uint32_t vmm_pid);

}  // namespace kfreeze::dump
