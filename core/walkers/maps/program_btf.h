// Program BTF behind bpf_map->btf: read the blob of the kernel's struct btf (kernel/bpf/btf.c)
// and parse it, standalone or split over vmlinux. Cached by the struct btf KVA so maps of one
// object share one parse, and across dumps: a cached entry is reused only if the blob read this
// time is byte-identical (a freed struct btf's address can be reused by another object). Bounded:
// entries a dump did not use are evicted when the next one starts, and one dump cannot hold more
// than the cache's byte/entry caps (the rest render as hex).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/base/caps.h"
#include "core/base/types.h"
#include "core/btf/btf_set.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_offsets.h"

namespace kfreeze::walkers::maps {

class ProgramBtfCache {
 public:
  // `vmlinux` (borrowed) is the base of split program BTF; may be null (split BTF then fails).
  // The cache holds at most `max_bytes` of blobs in at most `max_entries` entries.
  explicit ProgramBtfCache(const struct btf* vmlinux,
                           uint64_t max_bytes = caps::kMaxProgramBtfCacheBytes,
                           size_t max_entries = caps::kMaxProgramBtfCacheEntries)
      : vmlinux_(vmlinux), max_bytes_(max_bytes), max_entries_(max_entries) {}

  // Starts a dump: entries the previous dump did not use are evicted (a guest that keeps loading
  // new objects cannot grow the cache across dumps). Pointers handed out before are invalid.
  void BeginDump();

  // The parsed BTF, or why it is unusable (unreadable, too big, corrupt, or the cache is full
  // for this dump). Not thread-safe: one cache per target, used by one dump at a time. Pointers
  // stay valid until the next BeginDump() or Clear().
  absl::StatusOr<const struct btf*> Get(Reader& reader, Kva btf_object,
                                        const BtfObjectOffsets& off);
  void Clear() {
    entries_.clear();
    bytes_ = 0;
  }
  uint64_t parses() const { return parses_; }
  uint64_t hits() const { return hits_; }
  size_t entries() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::vector<uint8_t> blob;
    BtfPtr btf;
    absl::Status status;  // the parse outcome for `blob`
    uint64_t dump = 0;    // the last dump that used it
  };
  const struct btf* vmlinux_;
  uint64_t max_bytes_;
  size_t max_entries_;
  absl::flat_hash_map<uint64_t, Entry> entries_;
  uint64_t bytes_ = 0;  // sum of the entries' blob sizes
  uint64_t dump_ = 0;
  uint64_t parses_ = 0;
  uint64_t hits_ = 0;
};

}  // namespace kfreeze::walkers::maps
