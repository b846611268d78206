/* sdt-alloc: a sched_ext scheduler whose ops.init builds, in a BPF arena, what the scx library's
 * arena allocators (lib/sdt_alloc.bpf.c) leave behind: a struct scx_allocator whose 3-level
 * sdt_desc/sdt_chunk tree holds LAB_SDT_RECORDS allocations of struct lab_task_rec, and a struct
 * scx_static bump region with LAB_SDT_STATIC_BYTES handed out. The types carry the library's names
 * and layouts so kfreeze finds them by BTF; the code is the lab's own (clang-14 has no __arena
 * address space, so it writes through explicit addr_space_cast instructions).
 *
 * Known values (tests/e2e/sdt_alloc_e2e.py checks them): record i has tid {idx i, genn 1} and
 * payload {pid LAB_SDT_PID0 + i, magic LAB_SDT_MAGIC + i}; .bss lab_sdt_base is the arena
 * address of the block everything lives in, lab_sdt_ready is 1 once it is built.
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab_scx.h"

char _license[] SEC("license") = "GPL";

#define LAB_PAGE 4096ULL
#define LAB_SDT_RECORDS 4
#define LAB_SDT_PID0 1000
#define LAB_SDT_MAGIC 0x5d7a110c0000ULL
#define LAB_SDT_STATIC_BYTES 48
#define LAB_SDT_PAGES 8

/* libbpf 1.1 reads map_extra as an array length (u32): the arena sits at 256 MiB. */
struct {
  __uint(type, BPF_MAP_TYPE_ARENA);
  __uint(map_flags, BPF_F_MMAPABLE);
  __uint(max_entries, 64);
  __uint(map_extra, 0x10000000);
} arena SEC(".maps");

extern void* bpf_arena_alloc_pages(void* map, void* addr, __u32 page_cnt, int node_id,
                                   __u64 flags) __ksym;

/* addr_space_cast(reg, dst_as 0, src_as 1): the verifier's PTR_TO_ARENA, as
 * bpf_arena_common.h's cast_kern under BPF_ARENA_FORCE_ASM. */
#define lab_cast_kern(var)                                                                  \
  asm volatile(".byte 0xBF; .ifc %[reg], r0; .byte 0x00; .endif; .ifc %[reg], r1; .byte 0x11; " \
               ".endif; .ifc %[reg], r2; .byte 0x22; .endif; .ifc %[reg], r3; .byte 0x33; "     \
               ".endif; .ifc %[reg], r4; .byte 0x44; .endif; .ifc %[reg], r5; .byte 0x55; "     \
               ".endif; .ifc %[reg], r6; .byte 0x66; .endif; .ifc %[reg], r7; .byte 0x77; "     \
               ".endif; .ifc %[reg], r8; .byte 0x88; .endif; .ifc %[reg], r9; .byte 0x99; "     \
               ".endif; .short 1; .long 1"                                                      \
               : [reg] "+r"(var))

/* lib/sdt_task_defs.h shapes. */
enum sdt_consts {
  SDT_TASK_ENTS_PER_PAGE_SHIFT = 9,
  SDT_TASK_LEVELS = 3,
  SDT_TASK_ENTS_PER_CHUNK = 1 << SDT_TASK_ENTS_PER_PAGE_SHIFT,
  SDT_TASK_CHUNK_BITMAP_U64S = SDT_TASK_ENTS_PER_CHUNK / 64,
};
union sdt_id {
  __s64 val;
  struct {
    __s32 idx;
    __s32 genn;
  };
};
struct sdt_chunk;
struct sdt_desc {
  __u64 allocated[SDT_TASK_CHUNK_BITMAP_U64S];
  __u64 nr_free;
  struct sdt_chunk* chunk;
};
struct sdt_data {
  union sdt_id tid;
  __u64 payload[];
};
struct sdt_chunk {
  union {
    struct sdt_desc* descs[SDT_TASK_ENTS_PER_CHUNK];
    struct sdt_data* data[SDT_TASK_ENTS_PER_CHUNK];
  };
};
struct sdt_pool {
  void* slab;
  __u64 elem_size;
  __u64 max_elems;
  __u64 idx;
};
struct scx_allocator {
  struct sdt_pool pool;
  struct sdt_desc* root;
};
struct scx_static {
  __u64 max_alloc_bytes;
  void* memory;
  __u64 off;
};

/* The payload: named after its allocator ("lab_task_allocator") so kfreeze can tell it from the
 * other 16-byte structs of the program BTF. */
struct lab_task_rec {
  __u64 pid;
  __u64 magic;
};

struct scx_allocator lab_task_allocator;
struct scx_static scx_static;
struct lab_task_rec lab_sdt_first_rec; /* a copy of record 0; also keeps the type in BTF */
__u64 lab_sdt_base;
__u32 lab_sdt_ready;
s32 lab_init_ret = -1;
enum sdt_consts lab_sdt_levels = SDT_TASK_LEVELS; /* keeps enum sdt_consts in BTF */
/* clang-14 describes a struct reached only through pointers as a forward declaration; these keep
 * the tree's node types complete in BTF, where the library's own code would. */
struct sdt_desc lab_sdt_desc_type;
struct sdt_chunk lab_sdt_chunk_type;
struct sdt_data lab_sdt_data_type;

static __always_inline void lab_put64(__u64 addr, __u64 value) {
  __u64* p = (__u64*)addr;
  lab_cast_kern(p);
  *p = value;
}

/* Block layout: page 0 holds the three sdt_desc (0, 128, 256), pages 1-3 their sdt_chunk, page 4
 * the data slab, pages 5-6 the scx_static region. */
static __always_inline s32 lab_build(void) {
  __u64 b = (__u64)bpf_arena_alloc_pages(&arena, NULL, LAB_SDT_PAGES, -1, 0);
  if (!b) return -12;
  const __u64 elem = sizeof(struct sdt_data) + sizeof(struct lab_task_rec);
  const __u64 desc[3] = {b, b + 128, b + 256};
  const __u64 chunk[3] = {b + LAB_PAGE, b + 2 * LAB_PAGE, b + 3 * LAB_PAGE};
  const __u64 slab = b + 4 * LAB_PAGE;
  for (int l = 0; l < 3; l++) {
    lab_put64(desc[l] + __builtin_offsetof(struct sdt_desc, chunk), chunk[l]);
    lab_put64(desc[l] + __builtin_offsetof(struct sdt_desc, nr_free),
              l == 2 ? SDT_TASK_ENTS_PER_CHUNK - LAB_SDT_RECORDS : SDT_TASK_ENTS_PER_CHUNK - 1);
    if (l < 2) lab_put64(chunk[l], desc[l + 1]); /* descs[0] */
  }
  lab_put64(desc[2] + __builtin_offsetof(struct sdt_desc, allocated), (1ULL << LAB_SDT_RECORDS) - 1);
  for (int i = 0; i < LAB_SDT_RECORDS; i++) {
    const __u64 data = slab + i * elem;
    lab_put64(data, (__u64)(__u32)i | (1ULL << 32)); /* tid: idx i, genn 1 */
    lab_put64(data + 8, LAB_SDT_PID0 + i);
    lab_put64(data + 16, LAB_SDT_MAGIC + i);
    lab_put64(chunk[2] + i * 8, data); /* data[i] */
  }
  lab_task_allocator.pool.slab = (void*)slab;
  lab_task_allocator.pool.elem_size = elem;
  lab_task_allocator.pool.max_elems = LAB_PAGE / elem;
  lab_task_allocator.pool.idx = LAB_SDT_RECORDS;
  lab_task_allocator.root = (struct sdt_desc*)desc[0];
  scx_static.max_alloc_bytes = 2 * LAB_PAGE;
  scx_static.memory = (void*)(b + 5 * LAB_PAGE);
  scx_static.off = LAB_SDT_STATIC_BYTES;
  lab_sdt_first_rec.pid = LAB_SDT_PID0;
  lab_sdt_first_rec.magic = LAB_SDT_MAGIC;
  lab_sdt_base = b;
  lab_sdt_ready = 1;
  return 0;
}

SEC("struct_ops/lab_sdt_enqueue")
void BPF_PROG(lab_sdt_enqueue, struct task_struct* p, u64 enq_flags) {
  lab_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
}

SEC("struct_ops/lab_sdt_init")
s32 BPF_PROG(lab_sdt_init) {
  lab_init_ret = lab_build();
  return lab_init_ret;
}

SEC(".struct_ops")
struct sched_ext_ops lab_sdt = {
    .enqueue = (void*)lab_sdt_enqueue,
    .init = (void*)lab_sdt_init,
    .name = "lab_sdt",
};
