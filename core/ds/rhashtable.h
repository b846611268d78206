// struct rhashtable (include/linux/rhashtable.h, lib/rhashtable.c): every object hashed in a
// table, including a table caught mid-resize (tbl -> future_tbl chain) and nested bucket tables
// (allocated when a flat bucket array could not be). Objects met twice (an entry moved between
// tables while the guest froze) are reported once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/btf/offset_resolver.h"
#include "core/mem/reader.h"

namespace kfreeze::ds {

struct RhashtableOffsets {
  uint64_t ht_tbl = 0;          // rhashtable.tbl
  uint64_t ht_nelems = 0;       // rhashtable.nelems (atomic_t)
  uint64_t tbl_size = 0;        // bucket_table.size
  uint64_t tbl_nest = 0;        // bucket_table.nest
  uint64_t tbl_future_tbl = 0;  // bucket_table.future_tbl
  uint64_t tbl_buckets = 0;     // bucket_table.buckets[] (flexible array)
  uint64_t head_next = 0;       // rhash_head.next
};

// Resolves the group named "rhashtable" (all-or-nothing), recorded in `report` when given.
Group<RhashtableOffsets> ResolveRhashtableOffsets(const OffsetResolver& resolver,
                                                  OffsetGroupReport* report = nullptr);

struct RhashtableLimits {
  // A table and its future_tbl, plus one more in case a second resize was queued; longer chains
  // mean garbage.
  size_t max_tables = 4;
  // Largest bucket array walked (rhashtable caps max_size; 2^16 buckets hold far more DSQs than
  // any scheduler creates).
  uint32_t max_buckets = 1u << 16;
  // Entries per bucket chain: the kernel grows at 75% load, so long chains mean a corrupt chain.
  size_t max_chain = 1024;
  // Objects overall.
  size_t max_objects = 8192;
};

struct RhashtableWalk {
  std::vector<Kva> heads;           // rhash_head KVAs, each object once, table order
  uint32_t tables = 0;              // bucket tables walked (2 during a resize)
  bool resizing = false;            // a future_tbl was present
  std::optional<int32_t> nelems;    // the table's own element count, when readable
  bool truncated = false;           // a cap stopped the walk
  uint32_t unreadable_buckets = 0;  // buckets or chain links that failed to read
  absl::Status first_error;         // the first such failure, or the root failure
  bool root_ok = false;             // rhashtable.tbl could be read
};

RhashtableWalk RhashtableForEach(Reader& reader, Kva table, const RhashtableOffsets& off,
                                 const RhashtableLimits& limits = {});

}  // namespace kfreeze::ds
