// Walks of the scx library's arena allocators over captured arena pages. Every pointer is checked
// against the arena; node and entry counts, repeats and the deadline bound the work.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/types/span.h"
#include "core/walkers/sdt/arena_window.h"
#include "core/walkers/sdt/sdt_layout.h"
#include "kfreeze/v1/report.pb.h"

struct btf;

namespace kfreeze::walkers::sdt {

struct SdtWalkCaps {
  uint32_t max_entries = 4096;  // allocations listed per allocator
  uint32_t max_nodes = 4096;    // sdt_desc nodes visited per allocator
  // Slots larger than this are not read (pool_set_size accepts any size; the lib's own
  // non-sleepable path refuses anything above a page).
  uint64_t max_elem_size = 64 * 1024;
};

// The BTF struct of an allocation's payload. sdt_alloc records only a size, so the type is the one
// struct of the program BTF that fits it (ties broken by the allocator's name); `reason` says why
// there is none.
struct PayloadType {
  uint32_t type_id = 0;
  std::string reason;
};
PayloadType FindPayloadType(const struct btf* btf, uint64_t payload_bytes,
                            absl::string_view allocator_name);

// One struct scx_allocator, from its bytes (a global section's slice): every allocation whose bit
// is set in a leaf sdt_desc, as (idx, genn, address, payload). `expired` is polled per node.
kfreeze::v1::SdtAllocatorSnapshot WalkSdtAllocator(absl::Span<const uint8_t> allocator,
                                                   const SdtLayout& layout,
                                                   const ArenaWindow& arena, const struct btf* btf,
                                                   std::string name, const SdtWalkCaps& caps,
                                                   const std::function<bool()>& expired);

// One struct scx_static: its live range [memory, memory + off) of max_alloc_bytes. False when the
// instance is uninitialised (memory == 0) or inconsistent (off > max_alloc_bytes, region outside
// the arena, a region larger than the arena can be).
bool ReadScxStatic(absl::Span<const uint8_t> instance, const ScxStaticLayout& layout,
                   const ArenaWindow& arena, std::string name, kfreeze::v1::ScxStaticRange* out);

}  // namespace kfreeze::walkers::sdt
