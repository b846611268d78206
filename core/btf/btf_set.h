// BtfSet: the guest kernel's vmlinux BTF (from guest memory or a host file) plus split program
// BTFs layered on it. Owns every libbpf handle, so the base always outlives its splits.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/base/types.h"

namespace kfreeze {

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

// Checks what libbpf 1.1 does not: every referenced type id and name offset is in range, so the
// resolver and renderers can follow ids without re-checking. Ids below `first_id` (a split's base)
// are trusted.
absl::Status ValidateBtf(const struct btf* btf);

// Parses raw BTF bytes (magic 0xeb9f) with btf__new and validates them.
absl::StatusOr<BtfPtr> ParseBtf(std::span<const uint8_t> data);

// Parses split BTF on top of `base`. libbpf 1.1 declares btf__new_split but the shared library
// does not export it (checked with nm), so this goes through a memfd and btf__parse_raw_split.
absl::StatusOr<BtfPtr> ParseSplitBtf(std::span<const uint8_t> data, const struct btf* base);

class BtfSet {
 public:
  // libbpf keeps its own copy of the bytes (raw() below), so `raw` is released after parsing;
  // `source` says where it came from.
  static absl::StatusOr<std::unique_ptr<BtfSet>> FromVmlinuxBytes(std::vector<uint8_t> raw,
                                                                  std::string source);
  // A raw BTF file (e.g. a copy of /sys/kernel/btf/vmlinux) or an ELF with a .BTF section.
  static absl::StatusOr<std::unique_ptr<BtfSet>> FromFile(const std::string& path);

  const struct btf* vmlinux() const { return vmlinux_.get(); }
  // Types excluding the implicit void (id 0).
  uint32_t type_count() const { return btf__type_cnt(vmlinux_.get()) - 1; }
  // The vmlinux BTF bytes as parsed (libbpf's copy: no second one is kept), to dump or compare.
  std::span<const uint8_t> raw() const;
  const std::string& source() const { return source_; }

  // Program BTF, keyed by the KVA of its `struct btf` so maps of one object share one parse.
  // Thread-safe; the returned pointer lives as long as the BtfSet.
  absl::StatusOr<const struct btf*> AddSplit(Kva key, std::span<const uint8_t> data);
  const struct btf* FindSplit(Kva key) const;

 private:
  BtfSet() = default;

  BtfPtr vmlinux_;
  std::string source_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<Kva, BtfPtr> splits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfreeze
