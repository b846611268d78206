// struct bpf_prog / bpf_prog_aux / bpf_prog_stats (include/linux/bpf.h, kernel/bpf/syscall.c):
// every STRUCT_OPS program in prog_idr with cnt/nsecs/misses summed over the possible CPUs, and
// the active scheduler object: the first struct_ops program using a global-section map
// "<obj>.bss|.data|.rodata" names it (ktstr's rule), else the struct_ops map names do.
// The kernel only advances the stats while bpf_stats_enabled is on; zeros then are real zeros.
#pragma once

#include <cstdint>
#include <optional>

#include "core/ds/xarray.h"
#include "core/mem/reader.h"
#include "core/walkers/common/kernel_view.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::prog {

// Programs looked at in prog_idr; far above any real guest's count.
inline constexpr size_t kMaxProgs = 65536;
// bpf_prog_aux.used_map_cnt bound (MAX_USED_MAPS is 64).
inline constexpr uint32_t kMaxUsedMaps = 64;

// Group "bpf_prog".
struct ProgOffsets {
  uint64_t type = 0, aux = 0, stats = 0;
  uint64_t aux_id = 0, aux_name = 0, used_maps = 0, used_map_cnt = 0;
  std::optional<uint64_t> verified_insns;
  uint64_t stats_cnt = 0, stats_nsecs = 0, stats_misses = 0;
  uint64_t map_name = 0;               // bpf_map.name
  uint64_t map_type = 0;               // bpf_map.map_type
  uint32_t prog_type_struct_ops = 27;  // BPF_PROG_TYPE_STRUCT_OPS
  uint32_t map_type_struct_ops = 26;   // BPF_MAP_TYPE_STRUCT_OPS
};

struct ProgContext {
  std::optional<Kva> prog_idr;
  ds::IdrOffsets idr;
  ProgOffsets off;
  const PerCpuLayout* percpu = nullptr;
  absl::Status status;
};

ProgContext BuildProgContext(const KernelView& kernel);

// Fills prog_runtime_stats (+ _unavailable), active_obj_name and active_map_kvas.
void CaptureProgStats(Reader& reader, const ProgContext& ctx,
                      kfreeze::v1::FailureDumpReport& report);

}  // namespace kfreeze::walkers::prog
