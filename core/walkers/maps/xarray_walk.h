// One pass over an xarray's nodes (include/linux/xarray.h, lib/xarray.c), as xa_for_each does,
// instead of an xa_load per index: every present entry is found whatever its index, in index
// order, with each node read once. The chunk size comes from BTF (xa_node.slots length).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_offsets.h"

namespace kfreeze::walkers::maps {

// Nodes visited per walk: with 64 slots a node, 65,536 leaf nodes hold 4M entries.
inline constexpr uint32_t kMaxXaNodes = 1u << 16;

struct XaEntry {
  uint64_t index = 0;
  Kva entry;  // the stored pointer (never an internal or value entry)
};

struct XaWalk {
  std::vector<XaEntry> entries;  // ascending index
  uint32_t nodes_visited = 0;
  bool truncated = false;         // max_entries or kMaxXaNodes reached with more to go
  uint32_t skipped_internal = 0;  // retry/zero/sibling/value entries (not objects)
  uint32_t errors = 0;            // unreadable or inconsistent nodes, subtree skipped
  absl::Status first_error;       // the first of them
  bool root_lost = false;         // xa_head itself unreadable: nothing is known
};

// Walks the xarray whose `xa_head` field is at `xa_head_field`.
XaWalk XaForEach(Reader& reader, Kva xa_head_field, const IdrOffsets& offsets, size_t max_entries);

}  // namespace kfreeze::walkers::maps
