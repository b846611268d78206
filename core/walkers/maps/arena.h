// BPF_MAP_TYPE_ARENA (kernel/bpf/arena.c): a page snapshot of the arena, and a view of that
// snapshot through which the BTF renderer chases __arena pointers.
#pragma once

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/btf_render/render.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_caps.h"
#include "core/walkers/maps/map_info.h"
#include "core/walkers/maps/map_offsets.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::maps {

// GUARD_SZ / 2 on x86-64: round_up(1 << 16, PAGE_SIZE << 1) / 2. kern_vm_start =
// kern_vm->addr + this; a user address maps to kern_vm_start + (u32)user_addr.
inline constexpr uint64_t kArenaHalfGuard = 32 * 1024;
// The arena's span is at most 4 GiB (u32 offsets).
inline constexpr uint64_t kArenaMaxSpan = uint64_t{1} << 32;

struct ArenaCapture {
  kfreeze::v1::ArenaSnapshot snapshot;
  uint32_t unmapped_probes = 0;  // page offsets looked at and found unmapped (never populated)
  uint32_t unreadable = 0;       // mapped pages whose read failed
};

// Reads the arena's bounds, then its pages: every page offset of the first max_arena_pages,
// then max_arena_stride_probes evenly spaced offsets over the rest. Pages not mapped in the
// kernel's page tables were never allocated and are skipped.
absl::StatusOr<ArenaCapture> CaptureArena(Reader& reader, const BpfMapInfo& map,
                                          const ArenaOffsets& off, const MapCaps& caps);

// Captured arena pages as ArenaMemory. Borrows the snapshot.
class ArenaView : public btf_render::ArenaMemory {
 public:
  explicit ArenaView(const kfreeze::v1::ArenaSnapshot& snapshot);
  bool Contains(uint64_t addr) const override;
  absl::Status Read(uint64_t addr, absl::Span<uint8_t> out) const override;

 private:
  uint64_t start_ = 0;
  uint64_t end_ = 0;
  absl::flat_hash_map<uint64_t, const std::string*> pages_;  // page user address -> bytes
};

}  // namespace kfreeze::walkers::maps
