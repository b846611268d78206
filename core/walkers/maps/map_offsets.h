// Offsets of the kernel's BPF map structures (kernel/bpf/*.c, include/linux/bpf.h), resolved from
// vmlinux BTF once at attach. Each family is an all-or-nothing group with its own status, so a
// kernel without (say) struct bpf_arena loses only arena rendering, with the reason.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "core/btf/offset_resolver.h"
#include "core/ds/xarray.h"

namespace kfreeze::walkers::maps {

// A member's byte offset and width (1, 2, 4 or 8 for the scalars read here).
struct Field {
  uint64_t offset = 0;
  uint32_t size = 0;
};

using ds::IdrOffsets;

struct BpfMapOffsets {
  uint64_t struct_size = 0;  // sizeof(struct bpf_map): read in one go
  Field name;                // char name[BPF_OBJ_NAME_LEN]
  Field map_type, map_flags, key_size, value_size, max_entries, btf;
  Field btf_key_type_id, btf_value_type_id;
  std::optional<Field> map_extra;                  // v5.16+
  std::optional<Field> btf_vmlinux_value_type_id;  // struct_ops maps
  std::optional<Field> id;
};

// struct btf (kernel/bpf/btf.c): the blob of a program's BTF.
struct BtfObjectOffsets {
  Field data, data_size;
  std::optional<Field> base_btf;
};

// struct bpf_array: value[] / ptrs[] / pptrs[] share one flexible union.
struct ArrayOffsets {
  uint64_t value = 0;
  Field elem_size;
};

// struct bpf_htab, struct bucket, struct htab_elem (kernel/bpf/hashtab.c).
struct HtabOffsets {
  Field buckets, n_buckets;
  uint64_t bucket_size = 0;   // sizeof(struct bucket)
  uint64_t bucket_first = 0;  // bucket.head.first
  uint64_t node_next = 0;     // hlist_nulls_node.next
  uint64_t elem_key = 0;      // offsetof(htab_elem, key); hash_node is at 0 (checked)
  // The preallocated element area and its stride (absent: the copy stage follows the chains).
  std::optional<Field> elems, elem_size;
};

struct RingbufOffsets {
  uint64_t rb = 0;                                                         // bpf_ringbuf_map.rb
  uint64_t mask = 0, consumer_pos = 0, producer_pos = 0, pending_pos = 0;  // in bpf_ringbuf
};

struct StackMapOffsets {
  Field n_buckets;
  uint64_t buckets = 0;  // struct stack_map_bucket *buckets[]
  Field nr;              // stack_map_bucket.nr
  uint64_t data = 0;     // stack_map_bucket.data
};

// BPF_MAP_TYPE_{TASK,INODE,SK,CGRP}_STORAGE (kernel/bpf/bpf_local_storage.c).
struct LocalStorageOffsets {
  uint64_t buckets = 0;  // bpf_local_storage_map.buckets
  Field bucket_log;      // bpf_local_storage_map.bucket_log
  uint64_t bucket_size = 0;
  uint64_t bucket_first = 0;        // bpf_local_storage_map_bucket.list.first
  uint64_t node_next = 0;           // hlist_node.next
  uint64_t elem_map_node = 0;       // bpf_local_storage_elem.map_node
  uint64_t elem_local_storage = 0;  // bpf_local_storage_elem.local_storage
  uint64_t elem_data = 0;           // bpf_local_storage_elem.sdata.data
  uint64_t storage_owner = 0;       // bpf_local_storage.owner
};

struct StructOpsOffsets {
  uint64_t kvalue = 0;  // bpf_struct_ops_map.kvalue: struct bpf_struct_ops_<name> wrapper
};

struct ArenaOffsets {
  uint64_t kern_vm = 0;        // bpf_arena.kern_vm (struct vm_struct *)
  uint64_t user_vm_start = 0;  // bpf_arena.user_vm_start
  uint64_t vm_addr = 0;        // vm_struct.addr
};

// struct bpf_queue_stack (kernel/bpf/queue_stack_maps.c).
struct QueueStackOffsets {
  Field head, tail, size;
  uint64_t elements = 0;
};

// struct bpf_bloom_filter (kernel/bpf/bloom_filter.c).
struct BloomOffsets {
  Field bitset_mask, nr_hash_funcs;
  uint64_t bitset = 0;
};

// struct lpm_trie / lpm_trie_node (kernel/bpf/lpm_trie.c).
struct LpmOffsets {
  uint64_t root = 0;
  Field data_size;
  uint64_t child = 0;  // lpm_trie_node.child[2]
  Field prefixlen, flags;
  uint64_t node_data = 0;
};

// struct bpf_prog -> aux -> id: the program id bpftool shows for a PROG_ARRAY slot.
struct ProgIdOffsets {
  uint64_t aux = 0;  // bpf_prog.aux (struct bpf_prog_aux *)
  Field id;          // bpf_prog_aux.id
};

struct MapOffsets {
  Group<IdrOffsets> idr;
  Group<BpfMapOffsets> map;
  Group<BtfObjectOffsets> btf;
  Group<ArrayOffsets> array;
  Group<HtabOffsets> htab;
  Group<RingbufOffsets> ringbuf;
  Group<StackMapOffsets> stack_map;
  Group<LocalStorageOffsets> local_storage;
  Group<StructOpsOffsets> struct_ops;
  Group<ArenaOffsets> arena;
  Group<QueueStackOffsets> queue_stack;
  Group<BloomOffsets> bloom;
  Group<LpmOffsets> lpm;
  Group<ProgIdOffsets> prog_id;
};

// Resolves every group; never fails as a whole (each group carries its own status).
MapOffsets ResolveMapOffsets(const OffsetResolver& resolver);

}  // namespace kfreeze::walkers::maps
