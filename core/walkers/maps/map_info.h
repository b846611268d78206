// struct bpf_map (include/linux/bpf.h) decoded from guest memory: identity, shape and BTF ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_offsets.h"

namespace kfreeze::walkers::maps {

// enum bpf_map_type (include/uapi/linux/bpf.h); kept here because the host's header may predate
// the guest kernel.
enum MapType : uint32_t {
  kMapHash = 1,
  kMapArray = 2,
  kMapProgArray = 3,
  kMapPerfEventArray = 4,
  kMapPercpuHash = 5,
  kMapPercpuArray = 6,
  kMapStackTrace = 7,
  kMapCgroupArray = 8,
  kMapLruHash = 9,
  kMapLruPercpuHash = 10,
  kMapLpmTrie = 11,
  kMapArrayOfMaps = 12,
  kMapHashOfMaps = 13,
  kMapDevmap = 14,
  kMapSockmap = 15,
  kMapCpumap = 16,
  kMapXskmap = 17,
  kMapSockhash = 18,
  kMapCgroupStorage = 19,
  kMapReuseportSockarray = 20,
  kMapPercpuCgroupStorage = 21,
  kMapQueue = 22,
  kMapStack = 23,
  kMapSkStorage = 24,
  kMapDevmapHash = 25,
  kMapStructOps = 26,
  kMapRingbuf = 27,
  kMapInodeStorage = 28,
  kMapTaskStorage = 29,
  kMapBloomFilter = 30,
  kMapUserRingbuf = 31,
  kMapCgrpStorage = 32,
  kMapArena = 33,
};

struct BpfMapInfo {
  uint32_t index = 0;  // position in map_idr (id - idr_base)
  std::optional<uint32_t> id;
  Kva kva;
  std::string name;
  uint32_t type = 0;
  uint32_t flags = 0;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  std::optional<uint64_t> map_extra;
  Kva btf;  // struct btf * of the program BTF; null for maps created without BTF
  uint32_t btf_key_type_id = 0;
  uint32_t btf_value_type_id = 0;
  uint32_t btf_vmlinux_value_type_id = 0;
};

// Reads the struct bpf_map at `kva` in one read and decodes it.
absl::StatusOr<BpfMapInfo> ReadBpfMap(Reader& reader, Kva kva, const BpfMapOffsets& off);

// Little-endian field of width field.size (1, 2, 4, 8) from `bytes`; DataLoss if out of range.
absl::StatusOr<uint64_t> LoadField(std::span<const uint8_t> bytes, const Field& field);

// Reads a scalar field of an object at `base`.
absl::StatusOr<uint64_t> ReadField(Reader& reader, Kva base, const Field& field);

}  // namespace kfreeze::walkers::maps
