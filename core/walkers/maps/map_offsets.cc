// Resolution of the BPF map offset groups from vmlinux BTF.
#include "core/walkers/maps/map_offsets.h"

#include <bit>

#include "absl/strings/str_cat.h"

namespace kfreeze::walkers::maps {
namespace {

Field FieldOf(OffsetGroup& g, absl::string_view path) {
  const MemberLocation loc = g.Member(path);
  return Field{loc.ByteOffset(), static_cast<uint32_t>(loc.byte_size)};
}

// A version-gated member: nullopt when absent, without failing the group.
std::optional<Field> OptionalFieldOf(const OffsetResolver& r, absl::string_view path) {
  absl::StatusOr<MemberLocation> loc = r.Member(path);
  if (!loc.ok() || loc->bitfield_bits != 0) return std::nullopt;
  return Field{loc->ByteOffset(), static_cast<uint32_t>(loc->byte_size)};
}

}  // namespace

MapOffsets ResolveMapOffsets(const OffsetResolver& r) {
  MapOffsets o;
  o.idr = ds::ResolveIdrOffsets(r);

  o.map = ResolveGroup<BpfMapOffsets>(r, "bpf_map", [&](OffsetGroup& g, BpfMapOffsets& v) {
    v.struct_size = g.SizeOf("struct bpf_map");
    v.name = FieldOf(g, "bpf_map.name");
    v.map_type = FieldOf(g, "bpf_map.map_type");
    v.map_flags = FieldOf(g, "bpf_map.map_flags");
    v.key_size = FieldOf(g, "bpf_map.key_size");
    v.value_size = FieldOf(g, "bpf_map.value_size");
    v.max_entries = FieldOf(g, "bpf_map.max_entries");
    v.btf = FieldOf(g, "bpf_map.btf");
    v.btf_key_type_id = FieldOf(g, "bpf_map.btf_key_type_id");
    v.btf_value_type_id = FieldOf(g, "bpf_map.btf_value_type_id");
    v.map_extra = OptionalFieldOf(r, "bpf_map.map_extra");
    v.btf_vmlinux_value_type_id = OptionalFieldOf(r, "bpf_map.btf_vmlinux_value_type_id");
    v.id = OptionalFieldOf(r, "bpf_map.id");
  });

  o.btf = ResolveGroup<BtfObjectOffsets>(r, "btf", [&](OffsetGroup& g, BtfObjectOffsets& v) {
    v.data = FieldOf(g, "btf.data");
    v.data_size = FieldOf(g, "btf.data_size");
    v.base_btf = OptionalFieldOf(r, "btf.base_btf");
  });

  o.array = ResolveGroup<ArrayOffsets>(r, "bpf_array", [&](OffsetGroup& g, ArrayOffsets& v) {
    v.value = g.Offset("bpf_array.value");
    v.elem_size = FieldOf(g, "bpf_array.elem_size");
  });

  uint64_t htab_hash_node = 0;
  o.htab = ResolveGroup<HtabOffsets>(r, "htab", [&](OffsetGroup& g, HtabOffsets& v) {
    v.buckets = FieldOf(g, "bpf_htab.buckets");
    v.n_buckets = FieldOf(g, "bpf_htab.n_buckets");
    v.bucket_size = g.SizeOf("struct bucket");
    v.bucket_first = g.Offset("bucket.head.first");
    v.node_next = g.Offset("hlist_nulls_node.next");
    v.elem_key = g.Offset("htab_elem.key");
    htab_hash_node = g.Offset("htab_elem.hash_node");
  });
  if (o.htab.ok()) {
    o.htab.value.elems = OptionalFieldOf(r, "bpf_htab.elems");
    o.htab.value.elem_size = OptionalFieldOf(r, "bpf_htab.elem_size");
  }
  // The walk treats a chain node as its element: hash_node must open struct htab_elem.
  if (o.htab.ok() && htab_hash_node != 0) {
    o.htab.status = absl::NotFoundError(absl::StrCat(
        "offset group 'htab': htab_elem.hash_node at offset ", htab_hash_node, ", not 0"));
  }

  o.ringbuf = ResolveGroup<RingbufOffsets>(r, "ringbuf", [&](OffsetGroup& g, RingbufOffsets& v) {
    v.rb = g.Offset("bpf_ringbuf_map.rb");
    v.mask = g.Offset("bpf_ringbuf.mask");
    v.consumer_pos = g.Offset("bpf_ringbuf.consumer_pos");
    v.producer_pos = g.Offset("bpf_ringbuf.producer_pos");
    v.pending_pos = g.Offset("bpf_ringbuf.pending_pos");
  });

  o.stack_map =
      ResolveGroup<StackMapOffsets>(r, "stackmap", [&](OffsetGroup& g, StackMapOffsets& v) {
        v.n_buckets = FieldOf(g, "bpf_stack_map.n_buckets");
        v.buckets = g.Offset("bpf_stack_map.buckets");
        v.nr = FieldOf(g, "stack_map_bucket.nr");
        v.data = g.Offset("stack_map_bucket.data");
      });

  o.local_storage = ResolveGroup<LocalStorageOffsets>(
      r, "local_storage", [&](OffsetGroup& g, LocalStorageOffsets& v) {
        v.buckets = g.Offset("bpf_local_storage_map.buckets");
        v.bucket_log = FieldOf(g, "bpf_local_storage_map.bucket_log");
        v.bucket_size = g.SizeOf("struct bpf_local_storage_map_bucket");
        v.bucket_first = g.Offset("bpf_local_storage_map_bucket.list.first");
        v.node_next = g.Offset("hlist_node.next");
        v.elem_map_node = g.Offset("bpf_local_storage_elem.map_node");
        v.elem_local_storage = g.Offset("bpf_local_storage_elem.local_storage");
        v.elem_data = g.Offset("bpf_local_storage_elem.sdata.data");
        v.storage_owner = g.Offset("bpf_local_storage.owner");
      });

  o.struct_ops =
      ResolveGroup<StructOpsOffsets>(r, "struct_ops", [&](OffsetGroup& g, StructOpsOffsets& v) {
        v.kvalue = g.Offset("bpf_struct_ops_map.kvalue");
      });

  o.arena = ResolveGroup<ArenaOffsets>(r, "arena", [&](OffsetGroup& g, ArenaOffsets& v) {
    v.kern_vm = g.Offset("bpf_arena.kern_vm");
    v.user_vm_start = g.Offset("bpf_arena.user_vm_start");
    v.vm_addr = g.Offset("vm_struct.addr");
  });

  o.queue_stack =
      ResolveGroup<QueueStackOffsets>(r, "queue_stack", [&](OffsetGroup& g, QueueStackOffsets& v) {
        v.head = FieldOf(g, "bpf_queue_stack.head");
        v.tail = FieldOf(g, "bpf_queue_stack.tail");
        v.size = FieldOf(g, "bpf_queue_stack.size");
        v.elements = g.Offset("bpf_queue_stack.elements");
      });

  o.bloom = ResolveGroup<BloomOffsets>(r, "bloom_filter", [&](OffsetGroup& g, BloomOffsets& v) {
    v.bitset_mask = FieldOf(g, "bpf_bloom_filter.bitset_mask");
    v.nr_hash_funcs = FieldOf(g, "bpf_bloom_filter.nr_hash_funcs");
    v.bitset = g.Offset("bpf_bloom_filter.bitset");
  });

  o.lpm = ResolveGroup<LpmOffsets>(r, "lpm_trie", [&](OffsetGroup& g, LpmOffsets& v) {
    v.root = g.Offset("lpm_trie.root");
    v.data_size = FieldOf(g, "lpm_trie.data_size");
    v.child = g.Offset("lpm_trie_node.child");
    v.prefixlen = FieldOf(g, "lpm_trie_node.prefixlen");
    v.flags = FieldOf(g, "lpm_trie_node.flags");
    v.node_data = g.Offset("lpm_trie_node.data");
  });
  o.prog_id = ResolveGroup<ProgIdOffsets>(r, "prog_id", [&](OffsetGroup& g, ProgIdOffsets& v) {
    v.aux = g.Offset("bpf_prog.aux");
    v.id = FieldOf(g, "bpf_prog_aux.id");
  });
  return o;
}

}  // namespace kfreeze::walkers::maps
