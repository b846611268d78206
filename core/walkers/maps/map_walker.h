// The BPF map walk of one dump: map_idr's xarray -> struct bpf_map -> per-type rendering into
// report.maps, then the scx allocators inside the captured arena (report.sdt_allocations,
// report.scx_static_ranges). The reader's budget, which also watches the deadline, is checked
// between maps. A MapWalker lives as long as its target's attachment: offsets are resolved once,
// program BTF parses are cached across dumps.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "core/btf/offset_resolver.h"
#include "core/kernel/percpu.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/arena.h"
#include "core/walkers/maps/map_caps.h"
#include "core/walkers/maps/map_context.h"
#include "core/walkers/maps/map_info.h"
#include "core/walkers/maps/map_offsets.h"
#include "core/walkers/maps/program_btf.h"
#include "core/walkers/sdt/sdt_capture.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::maps {

struct MapWalkerOptions {
  const OffsetResolver* resolver = nullptr;  // vmlinux BTF offsets (required)
  const struct btf* vmlinux = nullptr;       // base of split BTF, STRUCT_OPS values
  const PerCpuLayout* percpu = nullptr;      // per-CPU maps
  Kva map_idr;                               // &map_idr
  MapCaps caps;
};

class MapWalker {
 public:
  explicit MapWalker(const MapWalkerOptions& options);

  // Appends one FailureDumpMap per map to report.maps and fills the arena allocator sections.
  // Returns an error only when the walk could not start (offsets missing, map_idr unreadable);
  // problems of one map go in its `error`, an incomplete idr walk in maps_unavailable, maps
  // skipped once reader's budget is spent (or its deadline passed) in maps_truncated.
  // `max_entries` overrides the entry caps of hash-shaped, array and queue maps (0 = none).
  absl::Status Dump(Reader& reader, kfreeze::v1::FailureDumpReport& report,
                    std::optional<uint32_t> max_entries = std::nullopt);

  const MapOffsets& offsets() const { return offsets_; }
  const ProgramBtfCache& btf_cache() const { return btf_cache_; }

 private:
  struct DecodedMap {
    uint64_t idr_id = 0;  // xarray index + idr_base
    Kva kva;
    absl::StatusOr<BpfMapInfo> info;
  };
  // The first ARENA map's pages (one arena per BPF object; its pointers are what maps chase).
  std::optional<ArenaCapture> CaptureFirstArena(Reader& reader, const std::vector<DecodedMap>& maps,
                                                Kva* arena_map);
  void RenderOne(Reader& reader, MapEnv& env, const DecodedMap& d,
                 kfreeze::v1::FailureDumpMap* out);
  // Global-section maps (.bss, .data) with their program BTF; values are read only for programs
  // whose BTF declares an scx allocator type.
  std::vector<sdt::GlobalSection> GlobalSections(Reader& reader,
                                                 const std::vector<DecodedMap>& maps);

  MapWalkerOptions options_;
  MapOffsets offsets_;
  ProgramBtfCache btf_cache_;
};

}  // namespace kfreeze::walkers::maps
