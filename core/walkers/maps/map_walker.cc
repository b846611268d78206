#include "core/walkers/maps/map_walker.h"

#include <bpf/btf.h>

#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/base/bpf_map_types.h"
#include "core/ds/xarray.h"
#include "core/walkers/maps/arena.h"
#include "core/walkers/maps/map_context.h"
#include "core/walkers/maps/map_info.h"

namespace kfreeze::walkers::maps {

using ds::kMaxXaNodes;
using ds::XaEntry;
using ds::XaForEach;
using ds::XaWalk;
namespace {

using kfreeze::v1::FailureDumpMap;

void FillHeader(const BpfMapInfo& m, FailureDumpMap* out) {
  out->set_name(m.name);
  out->set_map_kva(m.kva.value);
  out->set_map_type(m.type);
  out->set_value_size(m.value_size);
  out->set_max_entries(m.max_entries);
  out->set_key_size(m.key_size);
  out->set_map_flags(m.flags);
  if (m.map_extra) out->set_map_extra(*m.map_extra);
  const std::string_view name = BpfMapTypeName(m.type);
  if (!name.empty()) out->set_map_type_name(std::string(name));
}

std::string IdrProblems(const XaWalk& walk, size_t max_maps) {
  std::vector<std::string> parts;
  if (walk.errors > 0) {
    parts.push_back(absl::StrCat(
        "map_idr walk incomplete: ", walk.errors,
        " xa_node(s) unreadable or inconsistent (first: ", walk.first_error.message(), ")"));
  }
  if (walk.truncated) {
    parts.push_back(
        absl::StrCat("map_idr walk stopped at ", max_maps, " maps or ", kMaxXaNodes, " nodes"));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace

MapWalker::MapWalker(const MapWalkerOptions& options)
    : options_(options),
      offsets_(options.resolver != nullptr ? ResolveMapOffsets(*options.resolver) : MapOffsets{}),
      btf_cache_(options.vmlinux) {
  if (options.resolver == nullptr) {
    offsets_.idr.status = absl::FailedPreconditionError("no vmlinux BTF offsets");
  }
}

absl::Status MapWalker::Dump(Reader& reader, kfreeze::v1::FailureDumpReport& report,
                             std::optional<uint32_t> max_entries) {
  if (!offsets_.idr.ok()) return offsets_.idr.status;
  if (!offsets_.map.ok()) return offsets_.map.status;
  btf_cache_.BeginDump();
  const IdrOffsets& idr = offsets_.idr.value;
  const XaWalk walk =
      XaForEach(reader, options_.map_idr + idr.xa_head, idr, options_.caps.max_maps);
  if (walk.root_lost) {
    return absl::Status(walk.first_error.code(),
                        absl::StrCat("map_idr unreadable: ", walk.first_error.message()));
  }
  uint64_t idr_base = 0;
  if (idr.idr_base) {
    absl::StatusOr<uint32_t> base = reader.ReadU32(options_.map_idr + *idr.idr_base);
    if (base.ok()) idr_base = *base;
  }
  if (std::string problems = IdrProblems(walk, options_.caps.max_maps); !problems.empty()) {
    report.set_maps_unavailable(problems);
  }

  // Decode every map first (one read each) so an arena can be captured before the maps whose
  // __arena pointers chase into it.
  std::vector<DecodedMap> maps;
  maps.reserve(walk.entries.size());
  for (const XaEntry& e : walk.entries) {
    maps.push_back({e.index + idr_base, e.entry, ReadBpfMap(reader, e.entry, offsets_.map.value)});
  }
  MapCaps caps = options_.caps;
  if (max_entries) {
    const uint32_t n = *max_entries == 0 ? UINT32_MAX : *max_entries;
    caps.max_hash_entries = caps.max_array_entries = caps.max_percpu_keys = n;
    caps.max_queue_elements = n;
  }
  MapEnv env{.reader = reader,
             .offsets = offsets_,
             .percpu = options_.percpu,
             .vmlinux = options_.vmlinux,
             .caps = caps,
             .arena = nullptr,
             .arena_capture = nullptr,
             .arena_capture_map = Kva()};
  std::optional<ArenaCapture> arena;
  std::unique_ptr<ArenaView> arena_view;
  // The capture reads up to max_arena_pages pages: skip it once the budget is gone (the maps loop
  // below then stops at once and counts every map as truncated).
  if (!reader.BudgetExhausted() &&
      (arena = CaptureFirstArena(reader, maps, &env.arena_capture_map))) {
    arena_view = std::make_unique<ArenaView>(arena->snapshot);
    env.arena = arena_view.get();
    env.arena_capture = &*arena;
  }

  for (size_t i = 0; i < maps.size(); ++i) {
    if (reader.BudgetExhausted()) {
      report.set_maps_truncated(static_cast<uint32_t>(maps.size() - i));
      break;
    }
    RenderOne(reader, env, maps[i], report.add_maps());
  }

  sdt::ArenaAllocatorInputs allocators;
  allocators.expired = [&reader] { return reader.BudgetExhausted(); };
  if (!allocators.expired()) allocators.sections = GlobalSections(reader, maps);
  if (arena_view) allocators.arena = {arena_view.get(), arena->snapshot.user_vm_start()};
  sdt::CaptureArenaAllocators(allocators, report);
  return absl::OkStatus();
}

std::vector<sdt::GlobalSection> MapWalker::GlobalSections(Reader& reader,
                                                          const std::vector<DecodedMap>& maps) {
  std::vector<sdt::GlobalSection> out;
  if (!offsets_.btf.ok() || !offsets_.array.ok()) return out;
  for (const DecodedMap& d : maps) {
    if (!d.info.ok()) continue;
    const BpfMapInfo& m = *d.info;
    if (m.type != kMapArray || m.max_entries != 1 || m.btf.IsNull() || m.btf_value_type_id == 0 ||
        m.value_size > options_.caps.max_value_bytes) {
      continue;
    }
    absl::StatusOr<const struct btf*> btf = btf_cache_.Get(reader, m.btf, offsets_.btf.value);
    if (!btf.ok()) continue;
    const struct btf_type* t = btf__type_by_id(*btf, m.btf_value_type_id);
    if (t == nullptr || !btf_is_datasec(t)) continue;
    sdt::GlobalSection s;
    s.map_name = m.name;
    s.btf = *btf;
    s.datasec_type_id = m.btf_value_type_id;
    if (sdt::DeclaresArenaAllocator(*btf)) {
      absl::StatusOr<std::vector<uint8_t>> bytes =
          reader.ReadBytes(m.kva + offsets_.array.value.value, m.value_size);
      if (!bytes.ok()) continue;
      s.bytes = std::move(*bytes);
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<ArenaCapture> MapWalker::CaptureFirstArena(Reader& reader,
                                                         const std::vector<DecodedMap>& maps,
                                                         Kva* arena_map) {
  if (!offsets_.arena.ok()) return std::nullopt;
  for (const DecodedMap& d : maps) {
    if (!d.info.ok() || d.info->type != kMapArena) continue;
    absl::StatusOr<ArenaCapture> c =
        CaptureArena(reader, *d.info, offsets_.arena.value, options_.caps);
    if (!c.ok()) return std::nullopt;  // RenderArena reports the failure on the map itself
    *arena_map = d.kva;
    return std::move(*c);
  }
  return std::nullopt;
}

void MapWalker::RenderOne(Reader& reader, MapEnv& env, const DecodedMap& d, FailureDumpMap* out) {
  if (!d.info.ok()) {
    out->set_map_kva(d.kva.value);
    out->set_map_id(static_cast<uint32_t>(d.idr_id));
    out->set_error(absl::StrCat("struct bpf_map unreadable: ", d.info.status().message()));
    return;
  }
  const BpfMapInfo& m = *d.info;
  FillHeader(m, out);
  out->set_map_id(m.id.value_or(static_cast<uint32_t>(d.idr_id)));
  std::vector<std::string> problems;
  if (m.id && *m.id != d.idr_id) {
    problems.push_back(
        absl::StrCat("bpf_map.id ", *m.id, " differs from its map_idr index ", d.idr_id));
  }
  const struct btf* btf = nullptr;
  if (!m.btf.IsNull() && (m.btf_key_type_id != 0 || m.btf_value_type_id != 0)) {
    absl::StatusOr<const struct btf*> b =
        offsets_.btf.ok() ? btf_cache_.Get(reader, m.btf, offsets_.btf.value)
                          : absl::StatusOr<const struct btf*>(offsets_.btf.status);
    if (b.ok()) {
      btf = *b;
    } else {
      problems.push_back(
          absl::StrCat("program BTF unusable (", b.status().message(), "): rendered as hex"));
    }
  }
  if (!problems.empty()) out->set_error(absl::StrJoin(problems, "; "));
  MapContext mctx(env, m, btf, out);
  RenderMapContents(mctx);
  mctx.Finish();
}

}  // namespace kfreeze::walkers::maps
