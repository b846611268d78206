// map_type -> renderer. Every type either renders or says why not: nothing is silently omitted.
#include "absl/strings/str_cat.h"
#include "core/base/bpf_map_types.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {

// Types whose contents cannot be read from their kernel objects, with the reason.
const char* NotWalkedReason(uint32_t type) {
  switch (type) {
    case kMapCgroupStorage:
    case kMapPercpuCgroupStorage:
      return "deprecated cgroup storage (use CGRP_STORAGE); not walked";
    case kMapDevmap:
    case kMapDevmapHash:
    case kMapSockmap:
    case kMapSockhash:
    case kMapCpumap:
    case kMapXskmap:
    case kMapReuseportSockarray:
      return "networking map of kernel object pointers; not walked";
    case kMapPerfEventArray:
      return nullptr;  // bpf_array of perf files: handled as an fd array
    default:
      return nullptr;
  }
}

}  // namespace

void RenderMapContents(MapContext& ctx) {
  const uint32_t type = ctx.map().type;
  switch (type) {
    case kMapArray:
      return RenderArray(ctx);
    case kMapPercpuArray:
      return RenderPercpuArray(ctx);
    case kMapPerfEventArray:
    case kMapCgroupArray:
      return RenderFdArray(ctx);
    case kMapProgArray:
    case kMapArrayOfMaps:
      RenderFdArray(ctx);
      return RenderFdArrayIds(ctx);
    case kMapHash:
    case kMapLruHash:
    case kMapPercpuHash:
    case kMapLruPercpuHash:
    case kMapHashOfMaps:
      return RenderHash(ctx);
    case kMapRingbuf:
    case kMapUserRingbuf:
      return RenderRingbuf(ctx);
    case kMapStackTrace:
      return RenderStackTrace(ctx);
    case kMapQueue:
    case kMapStack:
      return RenderQueueStack(ctx);
    case kMapBloomFilter:
      return RenderBloom(ctx);
    case kMapLpmTrie:
      return RenderLpmTrie(ctx);
    case kMapTaskStorage:
    case kMapInodeStorage:
    case kMapSkStorage:
    case kMapCgrpStorage:
      return RenderLocalStorage(ctx);
    case kMapStructOps:
      return RenderStructOps(ctx);
    case kMapArena:
      return RenderArena(ctx);
    default:
      break;
  }
  if (const char* reason = NotWalkedReason(type)) {
    return ctx.Error(
        absl::StrCat("map type ", type, " (", std::string(BpfMapTypeName(type)), "): ", reason));
  }
  const std::string_view name = BpfMapTypeName(type);
  ctx.Error(absl::StrCat("unsupported map type ", type, " (",
                         name.empty() ? "unknown" : std::string(name), ")"));
}

}  // namespace kfreeze::walkers::maps
