// What one map's renderer works with: the reader, offsets, caps, the map's BTF, its output
// message, and the bookkeeping that turns every cap hit and failed read into its `error` line.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/btf_render/render.h"
#include "core/kernel/percpu.h"
#include "core/mem/reader.h"
#include "core/walkers/maps/map_caps.h"
#include "core/walkers/maps/map_info.h"
#include "core/walkers/maps/map_offsets.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::maps {

using kfreeze::v1::FailureDumpMap;
using kfreeze::v1::RenderedValue;

struct ArenaCapture;

// Shared by every map of one dump.
struct MapEnv {
  Reader& reader;
  const MapOffsets& offsets;
  const PerCpuLayout* percpu = nullptr;  // null: per-CPU maps render an error
  const struct btf* vmlinux = nullptr;   // renders STRUCT_OPS values
  MapCaps caps;
  const btf_render::ArenaMemory* arena = nullptr;  // the dump's arena snapshot, if captured
  // The capture `arena` views and the arena map it came from (rendered without a second read).
  const ArenaCapture* arena_capture = nullptr;
  Kva arena_capture_map;
};

class MapContext {
 public:
  // `btf` renders the map's key/value type ids; null renders hex.
  MapContext(MapEnv& env, const BpfMapInfo& map, const struct btf* btf, FailureDumpMap* out);

  Reader& reader() { return env_.reader; }
  const MapOffsets& off() const { return env_.offsets; }
  const MapCaps& caps() const { return env_.caps; }
  const PerCpuLayout* percpu() const { return env_.percpu; }
  const struct btf* vmlinux() const { return env_.vmlinux; }
  const MapEnv& env() const { return env_; }
  const BpfMapInfo& map() const { return map_; }
  const struct btf* btf() const { return btf_; }
  FailureDumpMap* out() { return out_; }
  void set_btf(const struct btf* btf) { btf_ = btf; }
  void set_arena(const btf_render::ArenaMemory* arena) { options_.arena = arena; }

  // Typed when `type_id` != 0 and the map has BTF, else Bytes{hex}; rendered in place.
  void Render(uint32_t type_id, std::span<const uint8_t> bytes, RenderedValue* out);
  // Reads and renders `size` bytes at `kva`; a fault yields Truncated with the reason (counted).
  // `raw` (optional) receives the bytes read; returns false on a fault or exhausted byte budget.
  bool ReadRendered(Kva kva, uint64_t size, uint32_t type_id, RenderedValue* out,
                    std::vector<uint8_t>* raw = nullptr);
  // Reads `size` bytes or fails (fault, budget); failures are counted like ReadRendered's.
  bool ReadRaw(Kva kva, uint64_t size, std::vector<uint8_t>* raw);

  // The id of the struct bpf_map at `inner` (map-of-maps slots hold the inner map pointer).
  bool InnerMapId(Kva inner, uint32_t* id);
  // The id of the struct bpf_prog at `prog` (PROG_ARRAY slots), through prog->aux->id.
  bool ProgId(Kva prog, uint32_t* id);

  // Charges `n` bytes to the map's read budget; false (noted once) when it is exhausted.
  bool ChargeBytes(uint64_t n);
  // A failed read of the walk itself (bucket, node, pointer): counted, first message kept.
  void Unreadable(const absl::Status& status);
  // A sentence for the map's `error` (a cap hit, an unsupported shape). Repeats are counted.
  void Error(std::string message) { errors_.Add(std::move(message)); }
  // Writes the collected errors, failed reads and render notes into out()->error.
  void Finish();

 private:
  MapEnv& env_;
  const BpfMapInfo& map_;
  const struct btf* btf_;
  FailureDumpMap* out_;
  btf_render::RenderOptions options_;
  btf_render::RenderNotes notes_;   // from the BTF renderer
  btf_render::RenderNotes errors_;  // from the map walk
  uint64_t unreadable_ = 0;
  std::string first_unreadable_;
  uint64_t bytes_read_ = 0;
  bool budget_noted_ = false;
};

// Renders the contents of `ctx.map()` by its type into ctx.out() (dispatch in render_dispatch.cc).
void RenderMapContents(MapContext& ctx);

// Per-type renderers.
void RenderArray(MapContext& ctx);
void RenderPercpuArray(MapContext& ctx);
void RenderFdArray(MapContext& ctx);
// After RenderFdArray, for ARRAY_OF_MAPS and PROG_ARRAY: entries slot -> inner map / program id,
// the value bpftool prints for those slots.
void RenderFdArrayIds(MapContext& ctx);
void RenderHash(MapContext& ctx);  // HASH, LRU_HASH, PERCPU and LRU_PERCPU variants, HASH_OF_MAPS
void RenderRingbuf(MapContext& ctx);
void RenderStackTrace(MapContext& ctx);
void RenderQueueStack(MapContext& ctx);
void RenderBloom(MapContext& ctx);
void RenderLpmTrie(MapContext& ctx);
void RenderLocalStorage(MapContext& ctx);
void RenderStructOps(MapContext& ctx);
void RenderArena(MapContext& ctx);

uint64_t RoundUp8(uint64_t v);

}  // namespace kfreeze::walkers::maps
