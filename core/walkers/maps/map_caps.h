// Bounds of the BPF map walk. Each cap that bites is reported in the map's `error` (or in the
// report's maps_truncated / maps_unavailable), never silently.
#pragma once

#include <cstdint>

#include "core/base/caps.h"

namespace kfreeze::walkers::maps {

struct MapCaps {
  // Maps rendered per dump; the xarray walk itself has no id limit (ktstr stops at id 65536).
  uint32_t max_maps = 1u << 16;
  // Keys of a multi-entry ARRAY, and entries of hash-shaped maps: what a reader can use in a
  // report; a million-entry map would make the dump, not the walk, the bottleneck.
  uint32_t max_array_entries = 4096;
  uint32_t max_hash_entries = 4096;
  // PERCPU_ARRAY keys: each key costs one read per possible CPU.
  uint32_t max_percpu_keys = 256;
  // Buckets scanned in a hash map (n_buckets is a power of 2 >= max_entries; 1M covers any map
  // a scheduler uses) and chain nodes visited overall (hostile chains, torn updates).
  uint32_t max_hash_buckets = 1u << 20;
  uint64_t max_chain_visits = 1'000'000;
  // One key or value read (BPF value_size is u32; KMALLOC_MAX_SIZE-sized values are the real max).
  uint64_t max_value_bytes = 16 * caps::kMiB;
  // Bytes read for one map overall (all keys, values and per-CPU copies together).
  uint64_t max_map_bytes = 64 * caps::kMiB;
  // STACK_TRACE: buckets scanned and PCs kept per bucket (PERF_MAX_STACK_DEPTH is 127).
  uint32_t max_stack_buckets = 16384;
  uint32_t max_stack_pcs = 128;
  // FD arrays: slots scanned and populated indices listed.
  uint32_t max_fd_slots = 4096;
  uint32_t max_fd_indices = 1024;
  // QUEUE/STACK elements listed, LPM_TRIE nodes visited.
  uint32_t max_queue_elements = 4096;
  uint32_t max_lpm_nodes = 1u << 16;
  // Local-storage buckets (1 << bucket_log).
  uint32_t max_storage_buckets = 1u << 16;
  // BLOOM_FILTER bitset bytes read for the population count.
  uint64_t max_bloom_bytes = 16 * caps::kMiB;
  // ARENA: pages captured in order from the start, then evenly spaced probes over the rest.
  uint32_t max_arena_pages = 4096;
  uint32_t max_arena_stride_probes = 256;
};

}  // namespace kfreeze::walkers::maps
