#include "core/walkers/sdt/sdt_layout.h"

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers::sdt {
namespace {

// The radix tree's depth when the BTF carries no enum sdt_consts (clang drops unused enums).
constexpr uint32_t kDefaultLevels = 3;
// Bounds that make a layout plausible: a page-sized chunk of 8-byte slots, a handful of levels.
constexpr uint32_t kMaxSlotsPerChunk = 4096;
constexpr int64_t kMaxLevels = 8;

}  // namespace

absl::StatusOr<SdtLayout> ResolveSdtLayout(const OffsetResolver& r) {
  Group<SdtLayout> g = ResolveGroup<SdtLayout>(r, "sdt_alloc", [](OffsetGroup& o, SdtLayout& l) {
    l.allocator_size = o.SizeOf("struct scx_allocator");
    l.root = o.Offset("scx_allocator.root");
    l.elem_size = o.Offset("scx_allocator.pool.elem_size");
    l.desc_size = o.SizeOf("struct sdt_desc");
    const MemberLocation allocated = o.Member("sdt_desc.allocated");
    l.desc_allocated = allocated.ByteOffset();
    l.bitmap_words = allocated.array_len.value_or(0);
    l.desc_nr_free = o.Offset("sdt_desc.nr_free");
    l.desc_chunk = o.Offset("sdt_desc.chunk");
    const MemberLocation data = o.Member("sdt_chunk.data");
    l.chunk_slots = data.ByteOffset();
    l.slots_per_chunk = data.array_len.value_or(0);
    l.data_tid = o.Offset("sdt_data.tid");
    l.data_header = o.Offset("sdt_data.payload");
  });
  if (!g.ok()) return g.status;
  SdtLayout l = *g;
  if (l.slots_per_chunk == 0 || l.slots_per_chunk > kMaxSlotsPerChunk ||
      uint64_t{l.bitmap_words} * 64 < l.slots_per_chunk) {
    return absl::FailedPreconditionError(absl::StrCat("sdt_chunk.data has ", l.slots_per_chunk,
                                                      " slots for a ", l.bitmap_words,
                                                      "-word sdt_desc.allocated bitmap"));
  }
  absl::StatusOr<int64_t> levels = r.EnumValue("SDT_TASK_LEVELS");
  l.levels = kDefaultLevels;
  if (levels.ok()) {
    if (*levels < 1 || *levels > kMaxLevels) {
      return absl::FailedPreconditionError(absl::StrCat("SDT_TASK_LEVELS is ", *levels));
    }
    l.levels = static_cast<uint32_t>(*levels);
  }
  return l;
}

absl::StatusOr<ScxStaticLayout> ResolveScxStaticLayout(const OffsetResolver& r) {
  Group<ScxStaticLayout> g =
      ResolveGroup<ScxStaticLayout>(r, "scx_static", [](OffsetGroup& o, ScxStaticLayout& l) {
        l.size = o.SizeOf("struct scx_static");
        l.max_alloc_bytes = o.Offset("scx_static.max_alloc_bytes");
        l.memory = o.Offset("scx_static.memory");
        l.off = o.Offset("scx_static.off");
      });
  if (!g.ok()) return g.status;
  return *g;
}

}  // namespace kfreeze::walkers::sdt
