// Hash-shaped maps (kernel/bpf/hashtab.c): HASH, LRU_HASH, PERCPU_HASH, LRU_PERCPU_HASH and
// HASH_OF_MAPS. bpf_htab.buckets[n_buckets] each head an hlist_nulls chain of htab_elem; a chain
// ends at a "nulls" marker (low bit set). Element layout: key at htab_elem.key, then the value
// (or, per-CPU, a __percpu pointer) at key + round_up(key_size, 8).
#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/base/status.h"
#include "core/btf_render/hex.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {

bool IsPercpu(uint32_t type) { return type == kMapPercpuHash || type == kMapLruPercpuHash; }

// BPF_F_NO_PREALLOC: elements are allocated one by one instead of from htab->elems.
constexpr uint32_t kNoPrealloc = 1u << 0;

// A copy-stage bulk copy of the element area pays when the map is at least this full (by
// occupied buckets); a sparser map is cheaper to copy by following its chains.
constexpr uint64_t kBulkMinFillPercent = 25;

// Buckets are read in batches: one read per batch instead of one per bucket.
constexpr uint32_t kBucketBatch = 256;

class HashWalk {
 public:
  explicit HashWalk(MapContext& ctx) : ctx_(ctx), off_(ctx.off().htab.value), m_(ctx.map()) {}

  void Run() {
    absl::StatusOr<uint64_t> buckets = ReadField(ctx_.reader(), m_.kva, off_.buckets);
    absl::StatusOr<uint64_t> n_buckets = ReadField(ctx_.reader(), m_.kva, off_.n_buckets);
    if (!buckets.ok() || !n_buckets.ok()) {
      return ctx_.Unreadable(!buckets.ok() ? buckets.status() : n_buckets.status());
    }
    if (*n_buckets == 0 || !std::has_single_bit(*n_buckets)) {
      return ctx_.Error(absl::StrCat("implausible n_buckets ", *n_buckets));
    }
    uint64_t scan = *n_buckets;
    if (scan > ctx_.caps().max_hash_buckets) {
      scan = ctx_.caps().max_hash_buckets;
      ctx_.Error(absl::StrCat("hash map scanned ", scan, " of ", *n_buckets, " buckets"));
    }
    value_offset_ = off_.elem_key + RoundUp8(m_.key_size);
    // Per-CPU and map-of-maps elements hold a pointer where the value would be.
    value_bytes_ = (IsPercpu(m_.type) || m_.type == kMapHashOfMaps) ? 8 : m_.value_size;
    std::vector<uint8_t> batch;
    if (ctx_.reader().copying() && CopyElementArea(Kva(*buckets), scan)) return;
    for (uint64_t first = 0; first < scan && !stop_; first += kBucketBatch) {
      const uint64_t count = std::min<uint64_t>(kBucketBatch, scan - first);
      const Kva at = Kva(*buckets) + first * off_.bucket_size;
      if (!ctx_.ReadRaw(at, count * off_.bucket_size, &batch)) continue;
      for (uint64_t i = 0; i < count && !stop_; ++i) {
        uint64_t head = 0;
        std::memcpy(&head, batch.data() + i * off_.bucket_size + off_.bucket_first, 8);
        Chain(first + i, head);
      }
    }
    if (entries_ > ctx_.caps().max_hash_entries) {
      ctx_.Error(absl::StrCat(IsPercpu(m_.type) ? "percpu hash map" : "hash map", " truncated at ",
                              ctx_.caps().max_hash_entries, " entries"));
    }
  }

 private:
  // Copy stage: copies the buckets and the preallocated element area as two bulk regions, so the
  // window costs a memcpy of the map instead of a pointer chase per element; the decode stage
  // follows the chains inside the copy. False (nothing decided) when the map does not qualify:
  // per-CPU values live elsewhere, elements allocated one by one, or a sparse map.
  bool CopyElementArea(Kva buckets, uint64_t scan) {
    if (IsPercpu(m_.type) || m_.type == kMapHashOfMaps || !off_.elems || !off_.elem_size) {
      return false;
    }
    const bool lru = m_.type == kMapLruHash;
    if (!lru && (m_.flags & kNoPrealloc) != 0) return false;
    Reader& reader = ctx_.reader();
    absl::StatusOr<uint64_t> elems = ReadField(reader, m_.kva, *off_.elems);
    absl::StatusOr<uint64_t> elem_size = ReadField(reader, m_.kva, *off_.elem_size);
    if (!elems.ok() || !elem_size.ok() || *elems == 0) return false;
    if (*elem_size < value_offset_ + value_bytes_ || *elem_size > ctx_.caps().max_value_bytes) {
      return false;
    }
    const uint64_t area = uint64_t{m_.max_entries} * *elem_size;
    if (area > ctx_.caps().max_map_bytes) return false;
    std::vector<uint8_t> batch;
    uint64_t occupied = 0;
    for (uint64_t first = 0; first < scan; first += kBucketBatch) {
      const uint64_t count = std::min<uint64_t>(kBucketBatch, scan - first);
      if (!ctx_.ReadRaw(buckets + first * off_.bucket_size, count * off_.bucket_size, &batch)) {
        continue;
      }
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t head = 0;
        std::memcpy(&head, batch.data() + i * off_.bucket_size + off_.bucket_first, 8);
        occupied += (head & 1) == 0 && head != 0;
      }
    }
    if (occupied * 100 < uint64_t{m_.max_entries} * kBulkMinFillPercent) return false;
    if (absl::Status s = reader.Prefetch(Kva(*elems), area); !s.ok()) {
      ctx_.Unreadable(s);
      return true;
    }
    // Without LRU, one extra element per possible CPU follows (in-flight updates): best effort.
    if (!lru && ctx_.percpu() != nullptr) {
      const uint64_t extra = ctx_.percpu()->PossibleCpus().size() * *elem_size;
      reader.Prefetch(Kva(*elems + area), extra).IgnoreError();
    }
    return true;
  }

  void Chain(uint64_t bucket, uint64_t node) {
    // A nulls marker (low bit) ends the chain; 0 would be a corrupt chain but also ends it.
    while (node != 0 && (node & 1) == 0 && !stop_) {
      if (++visits_ > ctx_.caps().max_chain_visits) {
        ctx_.Error(absl::StrCat("chain visit cap ", ctx_.caps().max_chain_visits, " reached"));
        stop_ = true;
        return;
      }
      if (!seen_.insert(node).second) {
        ctx_.Error(absl::StrCat("bucket ", bucket, " chain loops back to ", Hex(node)));
        return;
      }
      std::vector<uint8_t> elem;
      // One read covers next, key and value (translated page by page by the Reader).
      if (!ctx_.ReadRaw(Kva(node), value_offset_ + value_bytes_, &elem)) return;
      if (++entries_ > ctx_.caps().max_hash_entries) {
        stop_ = true;  // one element past the cap proves truncation; stop reading
        return;
      }
      Emit(elem);
      uint64_t next = 0;
      std::memcpy(&next, elem.data() + off_.node_next, 8);
      node = next;
    }
  }

  void Emit(const std::vector<uint8_t>& elem) {
    // Copy stage: the element is copied; only per-CPU values and inner maps need more reads.
    if (ctx_.reader().copying() && !IsPercpu(m_.type) && m_.type != kMapHashOfMaps) return;
    std::span<const uint8_t> key(elem.data() + off_.elem_key, m_.key_size);
    std::span<const uint8_t> value(elem.data() + value_offset_, value_bytes_);
    if (IsPercpu(m_.type)) return EmitPercpu(key, value);
    auto* e = ctx_.out()->add_entries();
    e->set_key_hex(key.data(), key.size());
    if (m_.btf_key_type_id != 0) ctx_.Render(m_.btf_key_type_id, key, e->mutable_key());
    if (m_.type == kMapHashOfMaps) {
      // The slot holds the inner struct bpf_map *; bpftool shows the inner map's id.
      uint64_t inner = 0;
      std::memcpy(&inner, value.data(), 8);
      return EmitInnerMapId(e, Kva(inner));
    }
    e->set_value_hex(value.data(), value.size());
    if (m_.btf_value_type_id != 0) ctx_.Render(m_.btf_value_type_id, value, e->mutable_value());
  }

  void EmitInnerMapId(kfreeze::v1::FailureDumpEntry* e, Kva inner) {
    uint32_t id = 0;
    if (!ctx_.InnerMapId(inner, &id)) return;
    e->set_value_hex(&id, 4);
    e->mutable_value()->mutable_uint()->set_bits(32);
    e->mutable_value()->mutable_uint()->set_value(id);
  }

  void EmitPercpu(std::span<const uint8_t> key, std::span<const uint8_t> pptr_bytes) {
    auto* e = ctx_.out()->add_percpu_hash_entries();
    e->set_key_hex(key.data(), key.size());
    if (m_.btf_key_type_id != 0) ctx_.Render(m_.btf_key_type_id, key, e->mutable_key());
    if (ctx_.percpu() == nullptr) {
      if (!percpu_noted_) ctx_.Error("per-CPU layout unavailable");
      percpu_noted_ = true;
      return;
    }
    uint64_t pptr = 0;
    std::memcpy(&pptr, pptr_bytes.data(), 8);
    const std::vector<CpuId>& possible = ctx_.percpu()->PossibleCpus();
    const CpuId last = possible.empty() ? 0 : possible.back();
    for (CpuId cpu = 0; !possible.empty() && cpu <= last; ++cpu) {
      auto* slot = e->add_per_cpu();
      absl::StatusOr<Kva> at = ctx_.percpu()->PerCpuPtr(Kva(pptr), cpu);
      if (!at.ok()) continue;  // not a possible CPU: null
      ctx_.ReadRendered(*at, m_.value_size, m_.btf_value_type_id, slot->mutable_value());
    }
  }

  MapContext& ctx_;
  const HtabOffsets& off_;
  const BpfMapInfo& m_;
  uint64_t value_offset_ = 0;
  uint64_t value_bytes_ = 0;
  uint64_t visits_ = 0;
  uint64_t entries_ = 0;
  bool stop_ = false;
  bool percpu_noted_ = false;
  absl::flat_hash_set<uint64_t> seen_;
};

}  // namespace

void RenderHash(MapContext& ctx) {
  if (!ctx.off().htab.ok()) return ctx.Error(std::string(ctx.off().htab.status.message()));
  HashWalk(ctx).Run();
}

}  // namespace kfreeze::walkers::maps
