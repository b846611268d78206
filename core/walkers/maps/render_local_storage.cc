// TASK/INODE/SK/CGRP_STORAGE (kernel/bpf/bpf_local_storage.c): bpf_local_storage_map.buckets
// [1 << bucket_log] head hlists of bpf_local_storage_elem (linked through map_node); each element
// belongs to one owner (task, inode, sock, cgroup) reached through elem->local_storage->owner.
#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "core/walkers/maps/map_context.h"

namespace kfreeze::walkers::maps {
namespace {
constexpr uint32_t kStorageBucketBatch = 256;
}  // namespace

void RenderLocalStorage(MapContext& ctx) {
  if (!ctx.off().local_storage.ok()) {
    return ctx.Error(std::string(ctx.off().local_storage.status.message()));
  }
  const LocalStorageOffsets& o = ctx.off().local_storage.value;
  const BpfMapInfo& m = ctx.map();
  absl::StatusOr<uint64_t> buckets = ctx.reader().ReadU64(m.kva + o.buckets);
  absl::StatusOr<uint64_t> log = ReadField(ctx.reader(), m.kva, o.bucket_log);
  if (!buckets.ok() || !log.ok())
    return ctx.Unreadable(!buckets.ok() ? buckets.status() : log.status());
  if (*log >= 32) return ctx.Error(absl::StrCat("implausible bucket_log ", *log));
  const uint64_t n = uint64_t{1} << *log;
  const uint64_t scan = std::min<uint64_t>(n, ctx.caps().max_storage_buckets);
  if (scan < n) ctx.Error(absl::StrCat("local storage scanned ", scan, " of ", n, " buckets"));
  absl::flat_hash_set<uint64_t> seen;
  absl::flat_hash_map<uint64_t, uint64_t> owners;  // local_storage KVA -> owner KVA
  std::vector<uint8_t> batch, value;
  uint64_t entries = 0, visits = 0;
  bool stop = false;
  for (uint64_t first = 0; first < scan && !stop; first += kStorageBucketBatch) {
    const uint64_t count = std::min<uint64_t>(kStorageBucketBatch, scan - first);
    if (!ctx.ReadRaw(Kva(*buckets) + first * o.bucket_size, count * o.bucket_size, &batch)) {
      continue;
    }
    for (uint64_t b = 0; b < count && !stop; ++b) {
      uint64_t node = 0;
      std::memcpy(&node, batch.data() + b * o.bucket_size + o.bucket_first, 8);
      while (node != 0 && !stop) {
        if (++visits > ctx.caps().max_chain_visits || !seen.insert(node).second) {
          ctx.Error(absl::StrCat("bucket ", first + b, " chain loops or exceeds the visit cap"));
          break;
        }
        const Kva elem = Kva(node) - o.elem_map_node;
        absl::StatusOr<uint64_t> next = ctx.reader().ReadU64(Kva(node) + o.node_next);
        absl::StatusOr<uint64_t> storage = ctx.reader().ReadU64(elem + o.elem_local_storage);
        if (!next.ok() || !storage.ok()) {
          ctx.Unreadable(!next.ok() ? next.status() : storage.status());
          break;
        }
        if (++entries > ctx.caps().max_hash_entries) {
          ctx.Error(absl::StrCat("local_storage map truncated at ", ctx.caps().max_hash_entries,
                                 " entries"));
          stop = true;
          break;
        }
        auto [it, fresh] = owners.try_emplace(*storage, 0);
        if (fresh) {
          absl::StatusOr<uint64_t> owner = ctx.reader().ReadU64(Kva(*storage) + o.storage_owner);
          if (owner.ok())
            it->second = *owner;
          else
            ctx.Unreadable(owner.status());
        }
        auto* e = ctx.out()->add_entries();
        const uint64_t owner = it->second;
        e->set_key_hex(&owner, 8);
        e->mutable_key()->mutable_ptr()->set_value(owner);
        ctx.ReadRendered(elem + o.elem_data, m.value_size, m.btf_value_type_id, e->mutable_value(),
                         &value);
        e->set_value_hex(value.data(), value.size());
        if (m.btf_value_type_id == 0) e->clear_value();
        node = *next;
      }
    }
  }
}

}  // namespace kfreeze::walkers::maps
