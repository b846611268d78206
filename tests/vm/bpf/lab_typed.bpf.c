/* lab_typed: BTF-typed maps and globals with known values, for the `maps` scenario.
 *
 * .data and .rodata get their values from the initializers below; .bss, the typed maps and the
 * ring buffer are filled by lab_fill, which the scenario runs once with `bpftool prog run`.
 * Every type shape a BTF renderer must handle appears: structs, unions, enums, bitfields, char
 * arrays, nested arrays, pointers, float/double, bool. tests/vm/tests/test_maps.py checks the
 * values through `lab truth`; keep the two in sync.
 *
 * bpftool 7.1 cannot render BTF_KIND_FLOAT: it prints "(unsupported-kind" and abandons the rest
 * of the value. So the float members come last in struct lab_record, and the variables holding
 * one come last in their sections; everything before them still renders.
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

enum lab_color { LAB_RED = 1, LAB_GREEN = 2, LAB_BLUE = 40 };

struct lab_bits {
  unsigned int low : 3;
  unsigned int mid : 5;
  unsigned int high : 12;
  int negative : 4;
  unsigned long long wide : 40;
};

union lab_word {
  u32 as_u32;
  u8 bytes[4];
  s16 halves[2];
};

struct lab_point {
  s32 x;
  s32 y;
};

struct lab_record {
  u64 id;
  char name[16];
  enum lab_color color;
  struct lab_bits bits;
  union lab_word word;
  struct lab_point grid[2][3];
  u16 matrix[2][2];
  void* opaque;
  struct lab_record* next;
  bool flag;
  float ratio;
  double precise;
};

/* .data */
u32 lab_data_counter = 7;
char lab_data_text[24] = "hello from .data";
struct lab_record lab_data_rec = {
    .id = 0x1122334455667788ULL,
    .name = "kfreeze-data",
    .color = LAB_GREEN,
    .bits = {.low = 5, .mid = 17, .high = 3000, .negative = -3, .wide = 0x123456789aULL},
    .word = {.as_u32 = 0xdeadbeef},
    .grid = {{{1, 2}, {3, 4}, {5, 6}}, {{7, 8}, {9, 10}, {11, 12}}},
    .matrix = {{100, 200}, {300, 400}},
    .opaque = (void*)0xffff888012345678ULL,
    .next = (struct lab_record*)0xffffffff81000000ULL,
    .ratio = 1.5f,
    .precise = 2.25,
    .flag = true,
};

/* .rodata */
const volatile struct lab_point lab_ro_origin = {.x = -11, .y = 22};
const volatile u64 lab_ro_magic = 0x4b465245455a45ULL; /* "KFREEZE" */
const volatile char lab_ro_banner[16] = "kfreeze-rodata";
const volatile enum lab_color lab_ro_color = LAB_BLUE;

/* .bss (zero until lab_fill runs) */
u64 lab_bss_runs;
s16 lab_bss_table[4][2];
struct lab_record lab_bss_rec;

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, u32);
  __type(value, struct lab_record);
} lab_typed_array SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8);
  __type(key, struct lab_point);
  __type(value, union lab_word);
} lab_typed_hash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, u32);
  __type(value, struct lab_point);
} lab_typed_pcpu SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} lab_typed_rb SEC(".maps");

/* Float bit patterns: the BPF backend has no floating point, so store them as integers. */
#define LAB_F32_0_25 0x3e800000U                /* 0.25f */
#define LAB_F64_MINUS_0_5 0xbfe0000000000000ULL /* -0.5 */

static __always_inline void fill_record(struct lab_record* r, u64 id) {
  r->id = id;
  __builtin_memcpy(r->name, "kfreeze-bss", 12);
  r->color = LAB_BLUE;
  r->bits.low = 2;
  r->bits.mid = 9;
  r->bits.high = 1234;
  r->bits.negative = -1;
  r->bits.wide = 0xabcdef0123ULL;
  r->word.as_u32 = 0x01020304;
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) {
      r->grid[i][j].x = (s32)(id + 10 * i + j);
      r->grid[i][j].y = -(s32)(10 * i + j);
    }
  r->matrix[0][0] = 11;
  r->matrix[0][1] = 12;
  r->matrix[1][0] = 21;
  r->matrix[1][1] = 22;
  r->opaque = (void*)0xffff8880cafef00dULL;
  r->next = 0;
  *(u32*)&r->ratio = LAB_F32_0_25;
  *(u64*)&r->precise = LAB_F64_MINUS_0_5;
  r->flag = true;
}

SEC("xdp")
int lab_fill(struct xdp_md* ctx) {
  /* First use decides the .bss layout: the float-carrying record must come last. */
  lab_bss_runs++;
  for (int i = 0; i < 4; i++) {
    lab_bss_table[i][0] = (s16)(i + 1);
    lab_bss_table[i][1] = (s16) - (i + 1);
  }
  fill_record(&lab_bss_rec, 42);

  /* Unrolled, with the key in its own slot: as a loop, 6.12's verifier loses the key's value on
   * the stack at the helper call and gives up ("The sequence of 8193 jumps is too complex"). */
#pragma unroll
  for (u32 i = 0; i < 4; i++) {
    u32 key = i;
    struct lab_record* r = bpf_map_lookup_elem(&lab_typed_array, &key);
    if (r) fill_record(r, 1000 + i);
  }
#pragma unroll
  for (s32 k = 1; k <= 3; k++) {
    struct lab_point key = {.x = k, .y = -k};
    union lab_word val = {.as_u32 = 0x100 * k};
    bpf_map_update_elem(&lab_typed_hash, &key, &val, BPF_ANY);
  }
  u32 zero = 0;
  struct lab_point* pt = bpf_map_lookup_elem(&lab_typed_pcpu, &zero);
  if (pt) {
    pt->x = 77;
    pt->y = -77;
  }
  struct lab_point rec = {.x = 0x5a5a, .y = 0x7b7b};
  bpf_ringbuf_output(&lab_typed_rb, &rec, sizeof(rec), 0);
  return XDP_PASS;
}
