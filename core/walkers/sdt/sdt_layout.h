// Layouts of the scx library's arena allocators (lib/sdt_alloc.bpf.c, lib/sdt_task_defs.h), taken
// member by member from the scheduler's program BTF so a reordered or resized struct is read as
// it is, not as it was.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/btf/offset_resolver.h"

namespace kfreeze::walkers::sdt {

// struct scx_allocator { struct sdt_pool pool; sdt_desc_t *root; } and the tree it roots:
// sdt_desc { u64 allocated[]; u64 nr_free; struct sdt_chunk *chunk; } per node, sdt_chunk
// { union { descs[]; data[]; } } of child pointers, sdt_data { union sdt_id tid; u64 payload[]; }
// per allocation.
struct SdtLayout {
  uint64_t allocator_size = 0;
  uint64_t root = 0;       // scx_allocator.root
  uint64_t elem_size = 0;  // scx_allocator.pool.elem_size
  uint64_t desc_size = 0;
  uint64_t desc_allocated = 0;
  uint32_t bitmap_words = 0;  // sdt_desc.allocated[] length
  uint64_t desc_nr_free = 0;
  uint64_t desc_chunk = 0;
  uint64_t chunk_slots = 0;      // sdt_chunk.data (== descs: one union)
  uint32_t slots_per_chunk = 0;  // sdt_chunk.data[] length
  uint64_t data_tid = 0;         // sdt_data.tid (idx, then genn, both s32)
  uint64_t data_header = 0;      // sdt_data.payload: bytes before the caller's data
  uint32_t levels = 0;           // SDT_TASK_LEVELS
};

// `resolver` indexes the scheduler's program BTF. An error names the missing type or member.
absl::StatusOr<SdtLayout> ResolveSdtLayout(const OffsetResolver& resolver);

// struct scx_static { size_t max_alloc_bytes; void __arena *memory; size_t off; }: a bump
// allocator over one arena region.
struct ScxStaticLayout {
  uint64_t size = 0;
  uint64_t max_alloc_bytes = 0;
  uint64_t memory = 0;
  uint64_t off = 0;
};

absl::StatusOr<ScxStaticLayout> ResolveScxStaticLayout(const OffsetResolver& resolver);

}  // namespace kfreeze::walkers::sdt
