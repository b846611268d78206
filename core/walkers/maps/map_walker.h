// The BPF map walk of one dump: map_idr's xarray -> struct bpf_map -> per-type rendering into
// report.maps, checking the deadline between maps. A MapWalker lives as long as its target's
// attachment: offsets are resolved once, program BTF parses are cached across dumps.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "core/btf/offset_resolver.h"
#include "core/dump/dump_phase.h"
#include "core/kernel/percpu.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_caps.h"
#include "core/walkers/maps/map_offsets.h"
#include "core/walkers/maps/program_btf.h"

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

  // Appends one FailureDumpMap per map to ctx.report().maps. Returns an error only when the walk
  // could not start (offsets missing, map_idr unreadable); problems of one map go in its `error`,
  // an incomplete idr walk in maps_unavailable, maps skipped by the deadline in maps_truncated.
  absl::Status Dump(Reader& reader, dump::PhaseContext& ctx);

  const MapOffsets& offsets() const { return offsets_; }
  const ProgramBtfCache& btf_cache() const { return btf_cache_; }

 private:
  MapWalkerOptions options_;
  MapOffsets offsets_;
  ProgramBtfCache btf_cache_;
};

}  // namespace kfreeze::walkers::maps
