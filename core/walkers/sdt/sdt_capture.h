// report.sdt_allocations and report.scx_static_ranges: every struct scx_allocator and struct
// scx_static variable of the scheduler's global sections, walked through the captured arena, or
// the precise reason (core/base/reasons.h) why there is none.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/btf_render/render.h"
#include "core/walkers/sdt/sdt_walk.h"
#include "kfreeze/v1/report.pb.h"

struct btf;

namespace kfreeze::walkers::sdt {

// A BPF global-section map (.bss, .data): a one-entry ARRAY whose value is a BTF DATASEC.
struct GlobalSection {
  std::string map_name;
  const struct btf* btf = nullptr;  // the program BTF (borrowed)
  uint32_t datasec_type_id = 0;
  std::vector<uint8_t> bytes;  // the map's value; may stay empty if !DeclaresArenaAllocator(btf)
};

struct ArenaAllocatorInputs {
  std::vector<GlobalSection> sections;
  ArenaWindow arena;  // arena.memory null: no arena was captured
  std::function<bool()> expired;
  SdtWalkCaps caps;
};

// True when `btf` declares struct scx_allocator or struct scx_static: only then are a section's
// bytes needed.
bool DeclaresArenaAllocator(const struct btf* btf);

void CaptureArenaAllocators(const ArenaAllocatorInputs& in, kfreeze::v1::FailureDumpReport& report);

// Both sections' reason, for a dump that could not look (the maps phase failed or was skipped).
void MarkArenaAllocatorsUnavailable(kfreeze::v1::FailureDumpReport& report,
                                    absl::string_view reason);

}  // namespace kfreeze::walkers::sdt
