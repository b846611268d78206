// One pass over an xarray's nodes (include/linux/xarray.h, lib/xarray.c), as xa_for_each does,
// instead of an xa_load per index: every present entry is found whatever its index, in index
// order, with each node read once. The chunk size comes from BTF (xa_node.slots length).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/base/types.h"
#include "core/btf/offset_resolver.h"
#include "core/mem/reader.h"

namespace kfreeze::ds {

// struct idr { struct radix_tree_root idr_rt (= struct xarray); unsigned int idr_base; ... } and
// the xa_node layout the walk needs.
struct IdrOffsets {
  uint64_t xa_head = 0;              // idr.idr_rt.xa_head
  std::optional<uint64_t> idr_base;  // ids are xarray index + idr_base
  uint64_t node_shift = 0;           // xa_node.shift (u8)
  uint64_t node_slots = 0;           // xa_node.slots[XA_CHUNK_SIZE]
  uint32_t chunk_size = 0;           // length of xa_node.slots: 64, or 16 with BASE_SMALL
  uint32_t chunk_shift = 0;          // log2(chunk_size)
};

// Largest XA_CHUNK_SIZE accepted from BTF: the kernel uses 16 or 64; anything far above is a
// hostile BTF asking us to allocate its slot array.
inline constexpr uint32_t kMaxXaChunkSize = 256;

// Resolves the group named "idr"; chunk_size must be a power of two in [2, kMaxXaChunkSize].
Group<IdrOffsets> ResolveIdrOffsets(const OffsetResolver& resolver,
                                    OffsetGroupReport* report = nullptr);

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

}  // namespace kfreeze::ds
