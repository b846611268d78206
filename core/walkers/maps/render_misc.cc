// Maps with a fixed small header: RINGBUF/USER_RINGBUF positions (kernel/bpf/ringbuf.c),
// STACK_TRACE buckets (kernel/bpf/stackmap.c), QUEUE/STACK elements (queue_stack_maps.c),
// BLOOM_FILTER bit population (bloom_filter.c) and STRUCT_OPS values (bpf_struct_ops.c).
#include <algorithm>
#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {

// BPF_F_STACK_BUILD_ID: buckets hold struct bpf_stack_build_id (32 bytes) instead of u64 PCs.
constexpr uint32_t kStackBuildIdFlag = 1u << 5;
constexpr uint32_t kStackBuildIdSize = 32;
constexpr uint32_t kStackBatch = 512;

bool ReadU64(MapContext& ctx, Kva at, uint64_t* out) {
  absl::StatusOr<uint64_t> v = ctx.reader().ReadU64(at);
  if (!v.ok()) {
    ctx.Unreadable(v.status());
    return false;
  }
  *out = *v;
  return true;
}

bool ReadScalar(MapContext& ctx, Kva base, const Field& f, uint64_t* out) {
  absl::StatusOr<uint64_t> v = ReadField(ctx.reader(), base, f);
  if (!v.ok()) {
    ctx.Unreadable(v.status());
    return false;
  }
  *out = *v;
  return true;
}

}  // namespace

void RenderRingbuf(MapContext& ctx) {
  if (!ctx.off().ringbuf.ok()) return ctx.Error(std::string(ctx.off().ringbuf.status.message()));
  const RingbufOffsets& o = ctx.off().ringbuf.value;
  uint64_t rb = 0, mask = 0, consumer = 0, producer = 0, pending = 0;
  if (!ReadU64(ctx, ctx.map().kva + o.rb, &rb)) return;
  if (rb == 0) return ctx.Error("ring buffer pointer is NULL");
  // The positions sit on separate pages of the vmap'd header; each read translates its own page.
  if (!ReadU64(ctx, Kva(rb) + o.mask, &mask) ||
      !ReadU64(ctx, Kva(rb) + o.consumer_pos, &consumer) ||
      !ReadU64(ctx, Kva(rb) + o.producer_pos, &producer) ||
      !ReadU64(ctx, Kva(rb) + o.pending_pos, &pending)) {
    return;
  }
  auto* out = ctx.out()->mutable_ringbuf();
  out->set_capacity(mask + 1);
  out->set_consumer_pos(consumer);
  out->set_producer_pos(producer);
  out->set_pending_pos(pending);
  out->set_pending_bytes(producer - consumer);
}

void RenderStackTrace(MapContext& ctx) {
  if (!ctx.off().stack_map.ok()) {
    return ctx.Error(std::string(ctx.off().stack_map.status.message()));
  }
  const StackMapOffsets& o = ctx.off().stack_map.value;
  uint64_t n_buckets = 0;
  if (!ReadScalar(ctx, ctx.map().kva, o.n_buckets, &n_buckets)) return;
  auto* out = ctx.out()->mutable_stack_trace();
  out->set_n_buckets(static_cast<uint32_t>(n_buckets));
  const uint64_t scan = std::min<uint64_t>(n_buckets, ctx.caps().max_stack_buckets);
  if (scan < n_buckets) {
    out->set_truncated(true);
    ctx.Error(absl::StrCat("stack map scanned ", scan, " of ", n_buckets, " buckets"));
  }
  const bool build_id = (ctx.map().flags & kStackBuildIdFlag) != 0;
  const uint32_t entry_size = build_id ? kStackBuildIdSize : 8;
  std::vector<uint8_t> ptrs, data;
  for (uint64_t first = 0; first < scan; first += kStackBatch) {
    const uint64_t count = std::min<uint64_t>(kStackBatch, scan - first);
    if (!ctx.ReadRaw(ctx.map().kva + o.buckets + first * 8, count * 8, &ptrs)) {
      out->set_buckets_unreadable(out->buckets_unreadable() + count);
      continue;
    }
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t bucket = 0;
      std::memcpy(&bucket, ptrs.data() + i * 8, 8);
      if (bucket == 0) continue;
      uint64_t nr = 0;
      if (!ReadScalar(ctx, Kva(bucket), o.nr, &nr)) {
        out->set_buckets_unreadable(out->buckets_unreadable() + 1);
        continue;
      }
      const uint64_t keep = std::min<uint64_t>(nr, ctx.caps().max_stack_pcs);
      if (keep < nr) out->set_truncated(true);
      if (!ctx.ReadRaw(Kva(bucket) + o.data, keep * entry_size, &data)) {
        out->set_buckets_unreadable(out->buckets_unreadable() + 1);
        continue;
      }
      auto* e = out->add_entries();
      e->set_bucket_id(static_cast<uint32_t>(first + i));
      e->set_nr(static_cast<uint32_t>(nr));
      e->set_data_hex(data.data(), data.size());
      for (uint64_t k = 0; !build_id && k < keep; ++k) {
        uint64_t pc = 0;
        std::memcpy(&pc, data.data() + k * 8, 8);
        e->add_pcs(pc);
      }
    }
  }
  if (out->buckets_unreadable() > 0) {
    ctx.Error(absl::StrCat(out->buckets_unreadable(), " stack buckets unreadable"));
  }
}

void RenderQueueStack(MapContext& ctx) {
  if (!ctx.off().queue_stack.ok()) {
    return ctx.Error(std::string(ctx.off().queue_stack.status.message()));
  }
  const QueueStackOffsets& o = ctx.off().queue_stack.value;
  const BpfMapInfo& m = ctx.map();
  uint64_t head = 0, tail = 0, size = 0;
  if (!ReadScalar(ctx, m.kva, o.head, &head) || !ReadScalar(ctx, m.kva, o.tail, &tail) ||
      !ReadScalar(ctx, m.kva, o.size, &size)) {
    return;
  }
  // size is max_entries + 1: one slot stays empty so head == tail means empty.
  if (size != uint64_t{m.max_entries} + 1 || head >= size || tail >= size) {
    return ctx.Error(absl::StrCat("implausible queue state head=", head, " tail=", tail,
                                  " size=", size, " (max_entries=", m.max_entries, ")"));
  }
  auto* out = ctx.out()->mutable_queue();
  const Kva elements = m.kva + o.elements;
  const bool is_stack = m.type == kMapStack;
  // Pop order: a queue pops at tail and walks up to head; a stack pops at head - 1 down to tail.
  uint64_t i = is_stack ? head : tail;
  const uint64_t end = is_stack ? tail : head;
  std::vector<uint8_t> raw;
  while (i != end) {
    if (static_cast<uint32_t>(out->elements_size()) >= ctx.caps().max_queue_elements) {
      out->set_truncated(true);
      ctx.Error(absl::StrCat("queue elements listed up to ", ctx.caps().max_queue_elements));
      break;
    }
    uint64_t slot = i;
    if (is_stack) {
      slot = (i == 0 ? size : i) - 1;
      i = slot;
    } else {
      i = (i + 1 == size) ? 0 : i + 1;
    }
    auto* element = out->add_elements();
    ctx.ReadRendered(elements + slot * m.value_size, m.value_size, m.btf_value_type_id,
                     element->mutable_value(), &raw);
    out->add_elements_hex(raw.data(), raw.size());
  }
}

void RenderBloom(MapContext& ctx) {
  if (!ctx.off().bloom.ok()) return ctx.Error(std::string(ctx.off().bloom.status.message()));
  const BloomOffsets& o = ctx.off().bloom.value;
  uint64_t mask = 0, nr_hash = 0;
  if (!ReadScalar(ctx, ctx.map().kva, o.bitset_mask, &mask) ||
      !ReadScalar(ctx, ctx.map().kva, o.nr_hash_funcs, &nr_hash)) {
    return;
  }
  auto* out = ctx.out()->mutable_bloom();
  const uint64_t bits = mask + 1;  // bitset_mask is (power of 2) - 1
  out->set_bits_total(bits);
  out->set_nr_hash_funcs(static_cast<uint32_t>(nr_hash));
  if (!std::has_single_bit(bits)) return ctx.Error(absl::StrCat("implausible bitset_mask ", mask));
  // BITS_TO_LONGS(bits) unsigned longs.
  const uint64_t bytes = (bits + 63) / 64 * 8;
  const uint64_t read = std::min(bytes, ctx.caps().max_bloom_bytes);
  std::vector<uint8_t> bitset;
  if (!ctx.ReadRaw(ctx.map().kva + o.bitset, read, &bitset)) return;
  uint64_t set = 0;
  for (uint64_t w = 0; w + 8 <= bitset.size(); w += 8) {
    uint64_t word = 0;
    std::memcpy(&word, bitset.data() + w, 8);
    set += std::popcount(word);
  }
  out->set_bits_set(set);
  if (read < bytes) {
    ctx.Error(absl::StrCat("bloom bits counted over the first ", read, " of ", bytes, " bytes"));
  }
}

void RenderStructOps(MapContext& ctx) {
  if (!ctx.off().struct_ops.ok()) {
    return ctx.Error(std::string(ctx.off().struct_ops.status.message()));
  }
  const BpfMapInfo& m = ctx.map();
  // value_size is sizeof(struct bpf_struct_ops_<name>), the vmlinux wrapper (common + data).
  ctx.set_btf(ctx.vmlinux());
  if (ctx.vmlinux() == nullptr) ctx.Error("no vmlinux BTF: struct_ops value as hex");
  const uint32_t type_id = ctx.vmlinux() != nullptr ? m.btf_vmlinux_value_type_id : 0;
  ctx.ReadRendered(m.kva + ctx.off().struct_ops.value.kvalue, m.value_size, type_id,
                   ctx.out()->mutable_value());
}

}  // namespace kfreeze::walkers::maps
