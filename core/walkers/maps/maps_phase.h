// The "maps" dump phase: report.maps from a KernelContext (which it keeps alive), with
// maps_unavailable as its reason field.
#pragma once

#include <memory>
#include <vector>

#include "core/dump/dump_phase.h"
#include "core/kernel/kernel_context.h"
#include "core/walkers/maps/map_caps.h"

namespace kfreeze::walkers::maps {

// Offsets are resolved here (attach time); program BTF parses are cached across dumps.
std::shared_ptr<dump::DumpPhase> MakeMapsPhase(std::shared_ptr<const KernelContext> kernel,
                                               MapCaps caps = {});

// The same as a dump::PhaseProvider (core/dump/standard): {"maps"}.
std::vector<std::shared_ptr<dump::DumpPhase>> MapsPhases(
    const std::shared_ptr<const KernelContext>& kernel);

}  // namespace kfreeze::walkers::maps
