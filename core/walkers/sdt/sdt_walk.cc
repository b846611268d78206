#include "core/walkers/sdt/sdt_walk.h"

#include <bpf/btf.h>

#include <cstring>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace kfreeze::walkers::sdt {
namespace {

using kfreeze::v1::ScxStaticRange;
using kfreeze::v1::SdtAllocatorSnapshot;

// The arena spans at most 4 GiB; no region or slot can be larger.
constexpr uint64_t kArenaMaxSpan = uint64_t{1} << 32;
// Candidate names listed in an ambiguous-payload reason.
constexpr size_t kMaxListedCandidates = 4;

uint64_t Load64(absl::Span<const uint8_t> bytes, uint64_t off) {
  uint64_t v = 0;
  if (off + 8 <= bytes.size()) std::memcpy(&v, bytes.data() + off, 8);
  return v;
}

class TreeWalk {
 public:
  TreeWalk(const SdtLayout& layout, const ArenaWindow& arena, const struct btf* btf,
           const PayloadType& payload, uint64_t elem_size, const SdtWalkCaps& caps,
           const std::function<bool()>& expired, SdtAllocatorSnapshot& out)
      : layout_(layout),
        arena_(arena),
        btf_(btf),
        payload_(payload),
        elem_size_(elem_size),
        caps_(caps),
        expired_(expired),
        out_(out) {}

  void Descend(uint64_t desc_ptr, uint32_t level) {
    if (out_.truncated()) return;
    if (nodes_ >= caps_.max_nodes || (expired_ && expired_())) {
      out_.set_truncated(true);
      return;
    }
    ++nodes_;
    // A node reached twice is a corrupt tree (the lib links each node once): do not walk it again.
    if (!seen_.insert(arena_.ToUser(desc_ptr)).second) return Skip();
    std::vector<uint8_t> desc(layout_.desc_size);
    if (!arena_.Read(desc_ptr, absl::MakeSpan(desc)).ok()) return Skip();
    const uint64_t nr_free = Load64(desc, layout_.desc_nr_free);
    if (nr_free > layout_.slots_per_chunk) return Skip();
    const uint64_t chunk_ptr = Load64(desc, layout_.desc_chunk);
    std::vector<uint8_t> chunk(uint64_t{layout_.slots_per_chunk} * 8);
    if (chunk_ptr == 0 ||
        !arena_.Read(chunk_ptr + layout_.chunk_slots, absl::MakeSpan(chunk)).ok()) {
      return Skip();
    }
    const bool leaf = level + 1 >= layout_.levels;
    for (uint32_t pos = 0; pos < layout_.slots_per_chunk && !out_.truncated(); ++pos) {
      const uint64_t child = Load64(chunk, uint64_t{pos} * 8);
      if (!leaf) {
        // Internal bits mean "subtree full", not "present": follow every non-null child.
        if (child != 0) Descend(child, level + 1);
        continue;
      }
      const uint64_t word = Load64(desc, layout_.desc_allocated + (pos / 64) * 8);
      if ((word >> (pos % 64) & 1) == 0) continue;
      // A set bit whose pointer is not stored yet: the allocation is in flight.
      if (child != 0) Emit(child);
    }
  }

 private:
  void Skip() { out_.set_skipped_subtrees(out_.skipped_subtrees() + 1); }

  void Emit(uint64_t data_ptr) {
    if (static_cast<uint32_t>(out_.entries_size()) >= caps_.max_entries) {
      out_.set_truncated(true);
      return;
    }
    std::vector<uint8_t> slot(elem_size_);
    if (!arena_.Read(data_ptr, absl::MakeSpan(slot)).ok()) return Skip();
    auto* e = out_.add_entries();
    int32_t idx = 0, genn = 0;
    std::memcpy(&idx, slot.data() + layout_.data_tid, 4);
    std::memcpy(&genn, slot.data() + layout_.data_tid + 4, 4);
    e->set_idx(idx);
    e->set_genn(genn);
    e->set_user_addr(static_cast<uint32_t>(data_ptr));  // ktstr's low-32 key
    const auto payload = absl::MakeConstSpan(slot).subspan(layout_.data_header);
    if (payload_.type_id != 0) {
      btf_render::RenderOptions options;
      options.arena = arena_.memory;
      btf_render::RenderInto(btf_, payload_.type_id, payload, e->mutable_payload(), options);
    } else {
      *e->mutable_payload() = btf_render::RenderHex(payload);
    }
  }

  const SdtLayout& layout_;
  const ArenaWindow& arena_;
  const struct btf* btf_;
  const PayloadType& payload_;
  uint64_t elem_size_;
  const SdtWalkCaps& caps_;
  const std::function<bool()>& expired_;
  SdtAllocatorSnapshot& out_;
  uint32_t nodes_ = 0;
  absl::flat_hash_set<uint64_t> seen_;
};

}  // namespace

PayloadType FindPayloadType(const struct btf* btf, uint64_t payload_bytes,
                            absl::string_view allocator_name) {
  // Only the program's own types: a vmlinux struct of the same size is never the payload.
  const struct btf* base = btf__base_btf(btf);
  const uint32_t first = base != nullptr ? btf__type_cnt(base) : 1;
  const uint32_t count = btf__type_cnt(btf);
  std::vector<std::pair<uint32_t, std::string>> fits;
  for (uint32_t id = first; id < count; ++id) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (t == nullptr || !btf_is_struct(t)) continue;
    const char* name = btf__name_by_offset(btf, t->name_off);
    if (name == nullptr || *name == '\0') continue;
    // sdt_alloc rounds header + payload up to 8 bytes, so the struct may be up to 7 bytes short.
    if (t->size == 0 || t->size > payload_bytes || t->size + 8 <= payload_bytes) continue;
    if (absl::StartsWith(name, "sdt_") || absl::StartsWith(name, "scx_alloc")) continue;
    fits.emplace_back(id, name);
  }
  if (fits.size() == 1) return {fits[0].first, ""};
  if (fits.empty()) {
    return {0, absl::StrCat("no struct of ", payload_bytes,
                            " bytes in the program BTF: payload rendered as bytes")};
  }
  // "task_allocator" -> "task": a payload named after its allocator wins a tie.
  absl::string_view stem = allocator_name;
  for (absl::string_view suffix : {"_allocator", "_alloc"}) {
    if (absl::ConsumeSuffix(&stem, suffix)) break;
  }
  std::vector<std::pair<uint32_t, std::string>> named;
  for (const auto& f : fits) {
    if (!stem.empty() && absl::StartsWith(f.second, stem)) named.push_back(f);
  }
  if (named.size() == 1) return {named[0].first, ""};
  std::vector<std::string> names;
  for (size_t i = 0; i < fits.size() && i < kMaxListedCandidates; ++i)
    names.push_back(fits[i].second);
  return {0, absl::StrCat(fits.size(), " structs of ", payload_bytes, " bytes in the program BTF (",
                          absl::StrJoin(names, ", "), fits.size() > names.size() ? ", ..." : "",
                          "): payload rendered as bytes")};
}

SdtAllocatorSnapshot WalkSdtAllocator(absl::Span<const uint8_t> allocator, const SdtLayout& layout,
                                      const ArenaWindow& arena, const struct btf* btf,
                                      std::string name, const SdtWalkCaps& caps,
                                      const std::function<bool()>& expired) {
  SdtAllocatorSnapshot snap;
  snap.set_allocator_name(std::move(name));
  const uint64_t elem_size = Load64(allocator, layout.elem_size);
  snap.set_elem_size(elem_size);
  if (elem_size < layout.data_header || elem_size > caps.max_elem_size) {
    snap.set_payload_type_reason(absl::StrCat("pool.elem_size ", elem_size, " outside [",
                                              layout.data_header, ", ", caps.max_elem_size,
                                              "]: allocations not read"));
    return snap;
  }
  const PayloadType payload =
      FindPayloadType(btf, elem_size - layout.data_header, snap.allocator_name());
  snap.set_target_type_id(payload.type_id);
  snap.set_payload_type_reason(payload.reason);
  const uint64_t root = Load64(allocator, layout.root);
  if (root == 0) return snap;  // initialised lazily: nothing allocated yet
  TreeWalk walk(layout, arena, btf, payload, elem_size, caps, expired, snap);
  walk.Descend(root, 0);
  return snap;
}

bool ReadScxStatic(absl::Span<const uint8_t> instance, const ScxStaticLayout& layout,
                   const ArenaWindow& arena, std::string name, ScxStaticRange* out) {
  const uint64_t max_bytes = Load64(instance, layout.max_alloc_bytes);
  const uint64_t memory = Load64(instance, layout.memory);
  const uint64_t off = Load64(instance, layout.off);
  if (memory == 0 || max_bytes == 0 || max_bytes >= kArenaMaxSpan || off > max_bytes) return false;
  if (!arena.Contains(memory) || !arena.Contains(memory + max_bytes - 1)) return false;
  out->set_instance_name(std::move(name));
  out->set_start_low32(static_cast<uint32_t>(memory));
  out->set_size(off);
  out->set_capacity(max_bytes);
  return true;
}

}  // namespace kfreeze::walkers::sdt
