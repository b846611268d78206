/* scale: big BTF-typed hash maps for the `scale` scenario (and bench/guest/scale_window.py).
 *
 * Per supported value size (16, 64, 256 bytes) there are SCALE_MAX_MAPS hash maps with u32 keys
 * and a struct value of u64 words, and one SEC("syscall") fill program per map. The guest loader
 * (guestbin/lab_scale.c) creates only the maps of the chosen size and count, sets their
 * max_entries to the entry count, and runs each map's fill program once through BPF_PROG_RUN:
 * the program inserts keys 0..entries-1 with bpf_loop, so 100,000 entries take one syscall.
 *
 * Entry i of map m holds word j = scale_word(m, i, j) = m << 48 | i << 8 | j: every word of every
 * entry is distinct and a reader can check any rendered value without the guest.
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

/* The loader overrides max_entries; this is only what the object says. */
#define SCALE_DEFAULT_ENTRIES 100000

struct scale_val16 {
  u64 id;
  u64 a;
};

struct scale_val64 {
  u64 id;
  u64 a;
  u64 b;
  u64 c;
  u64 d;
  u64 e;
  u64 f;
  u64 g;
};

struct scale_val256 {
  u64 id;
  u64 words[31];
};

/* BPF_PROG_RUN's ctx_in for the fill programs. */
struct scale_args {
  u32 entries;
  u32 reserved;
};

struct scale_fill_state {
  long err;
};

static __always_inline u64 scale_word(u64 map, u64 i, u64 j) { return map << 48 | i << 8 | j; }

/* One hash map of struct scale_val<SIZE>, its bpf_loop callback and its fill program. */
#define SCALE_MAP(SIZE, IDX)                                                       \
  struct {                                                                         \
    __uint(type, BPF_MAP_TYPE_HASH);                                               \
    __uint(max_entries, SCALE_DEFAULT_ENTRIES);                                    \
    __type(key, u32);                                                              \
    __type(value, struct scale_val##SIZE);                                         \
  } scale_h##SIZE##_##IDX SEC(".maps");                                            \
                                                                                   \
  static long scale_put##SIZE##_##IDX(u32 i, struct scale_fill_state* st) {        \
    struct scale_val##SIZE v;                                                      \
    u64* w = (u64*)&v;                                                             \
    u32 key = i;                                                                   \
    for (int j = 0; j < (SIZE) / 8; j++) w[j] = scale_word(IDX, i, j);             \
    long err = bpf_map_update_elem(&scale_h##SIZE##_##IDX, &key, &v, BPF_NOEXIST); \
    if (err) {                                                                     \
      st->err = err;                                                               \
      return 1;                                                                    \
    }                                                                              \
    return 0;                                                                      \
  }                                                                                \
                                                                                   \
  SEC("syscall")                                                                   \
  int scale_fill##SIZE##_##IDX(struct scale_args* args) {                          \
    struct scale_fill_state st = {.err = 0};                                       \
    long n = bpf_loop(args->entries, scale_put##SIZE##_##IDX, &st, 0);             \
    if (n < 0) return (int)n;                                                      \
    return (int)st.err;                                                            \
  }

/* SCALE_MAX_MAPS = 4 per size; lab_scale.c knows the same names. */
SCALE_MAP(16, 0)
SCALE_MAP(16, 1)
SCALE_MAP(16, 2)
SCALE_MAP(16, 3)
SCALE_MAP(64, 0)
SCALE_MAP(64, 1)
SCALE_MAP(64, 2)
SCALE_MAP(64, 3)
SCALE_MAP(256, 0)
SCALE_MAP(256, 1)
SCALE_MAP(256, 2)
SCALE_MAP(256, 3)
