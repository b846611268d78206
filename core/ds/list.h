// struct list_head (include/linux/list.h): bounded, cycle-safe walks of circular kernel lists.
// The frozen guest may have been inside list_add/list_del, so every node's prev link is checked
// against the node we came from; a mismatch is counted, not fatal (the next link is still valid
// in every intermediate state of those two helpers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "core/base/types.h"
#include "core/mem/reader.h"

namespace kfreeze::ds {

// list_head is {next, prev}, two pointers; fixed since 2.6 and checked against BTF by walkers
// that resolve their groups (ListHeadLayoutOk).
inline constexpr uint64_t kListNextOffset = 0;
inline constexpr uint64_t kListPrevOffset = 8;

struct ListWalk {
  std::vector<Kva> nodes;          // list_head KVAs in list order, the head excluded
  bool truncated = false;          // stopped after max_nodes with more nodes left
  bool cycle = false;              // reached a node a second time without returning to the head
  uint32_t broken_back_links = 0;  // node->prev != the node we came from (torn update)
  absl::Status error;              // the read that ended the walk early; OK otherwise

  // The walk reached the head again: `nodes` is the whole list.
  bool complete() const { return !truncated && !cycle && error.ok(); }
};

// Walks from `head` (a list_head KVA) until it comes back to it, at most `max_nodes` nodes.
// A NULL next pointer or an unreadable node ends the walk with `error` set.
ListWalk ListForEach(Reader& reader, Kva head, size_t max_nodes);

// The enclosing object of an embedded member (the kernel's container_of).
inline Kva ContainerOf(Kva member, uint64_t member_offset) { return member - member_offset; }

}  // namespace kfreeze::ds
