// The "maps" dump phase: a thin adapter that runs the MapWalker (core/walkers/maps) over a
// KernelContext (which it keeps alive). It fills report.maps, sdt_allocations and
// scx_static_ranges; its reason fields are maps_unavailable, sdt_alloc_unavailable and
// scx_static_unavailable.
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
