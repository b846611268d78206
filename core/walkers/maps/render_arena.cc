// ARENA maps in the report: the page snapshot (captured once per dump, see arena.h).
#include "absl/strings/str_cat.h"
#include "core/base/reasons.h"
#include "core/walkers/maps/arena.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {

void RenderArena(MapContext& ctx) {
  if (!ctx.off().arena.ok()) {
    return ctx.Error(
        absl::StrCat(kArenaOffsetsUnavailable, ": ", ctx.off().arena.status.message()));
  }
  ArenaCapture local;
  const ArenaCapture* capture = ctx.env().arena_capture;
  if (capture == nullptr || ctx.env().arena_capture_map != ctx.map().kva) {
    absl::StatusOr<ArenaCapture> c =
        CaptureArena(ctx.reader(), ctx.map(), ctx.off().arena.value, ctx.caps());
    if (!c.ok()) return ctx.Unreadable(c.status());
    local = std::move(*c);
    capture = &local;
  }
  *ctx.out()->mutable_arena() = capture->snapshot;
  const auto& snap = capture->snapshot;
  if (snap.span_capped()) ctx.Error("arena span capped at 4 GiB");
  if (snap.truncated()) {
    ctx.Error(absl::StrCat("arena pages probed: first ", ctx.caps().max_arena_pages, " then ",
                           ctx.caps().max_arena_stride_probes, " strided of ",
                           snap.declared_pages(), " declared"));
  }
  if (capture->unreadable > 0) {
    ctx.Error(absl::StrCat(capture->unreadable, " mapped arena pages unreadable"));
  }
}

}  // namespace kfreeze::walkers::maps
