// Program BTF behind bpf_map->btf: read the blob of the kernel's struct btf (kernel/bpf/btf.c)
// and parse it, standalone or split over vmlinux. Cached by the struct btf KVA so maps of one
// object share one parse, and across dumps: a cached entry is reused only if the blob read this
// time is byte-identical (a freed struct btf's address can be reused by another object).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/btf/btf_set.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_offsets.h"

namespace kfreeze::walkers::maps {

class ProgramBtfCache {
 public:
  // `vmlinux` (borrowed) is the base of split program BTF; may be null (split BTF then fails).
  explicit ProgramBtfCache(const struct btf* vmlinux) : vmlinux_(vmlinux) {}

  // The parsed BTF, or why it is unusable (unreadable, too big, corrupt). Not thread-safe: one
  // cache per target, used by one dump at a time. Pointers stay valid until Clear().
  absl::StatusOr<const struct btf*> Get(Reader& reader, Kva btf_object,
                                        const BtfObjectOffsets& off);
  void Clear() { entries_.clear(); }
  uint64_t parses() const { return parses_; }
  uint64_t hits() const { return hits_; }

 private:
  struct Entry {
    std::vector<uint8_t> blob;
    BtfPtr btf;
    absl::Status status;  // the parse outcome for `blob`
  };
  const struct btf* vmlinux_;
  absl::flat_hash_map<uint64_t, Entry> entries_;
  uint64_t parses_ = 0;
  uint64_t hits_ = 0;
};

}  // namespace kfreeze::walkers::maps
