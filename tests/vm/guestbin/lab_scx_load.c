// lab-link: -lbpf -lelf -lz
// lab_scx_load OBJ [SLEEPABLE_PROG...]: loads a sched_ext scheduler object and registers its
// struct_ops maps like `bpftool struct_ops register`, after marking the named programs
// sleepable (BPF_F_SLEEPABLE). ops.init must be sleepable to call scx_bpf_create_dsq(), and
// bookworm's libbpf 1.1 (inside bpftool 7.1) knows no "struct_ops.s" section to say so. As with
// bpftool, the registration outlives this process.
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: lab_scx_load OBJ [SLEEPABLE_PROG...]\n");
    return 2;
  }
  struct bpf_object* obj = bpf_object__open_file(argv[1], NULL);
  if (libbpf_get_error(obj)) {
    fprintf(stderr, "lab_scx_load: cannot open %s\n", argv[1]);
    return 1;
  }
  for (int i = 2; i < argc; i++) {
    struct bpf_program* prog = bpf_object__find_program_by_name(obj, argv[i]);
    if (!prog) {
      fprintf(stderr, "lab_scx_load: no program %s in %s\n", argv[i], argv[1]);
      return 1;
    }
    bpf_program__set_flags(prog, bpf_program__flags(prog) | BPF_F_SLEEPABLE);
  }
  if (bpf_object__load(obj)) {
    fprintf(stderr, "lab_scx_load: loading %s failed\n", argv[1]);
    return 1;
  }
  int registered = 0;
  struct bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    if (bpf_map__type(map) != BPF_MAP_TYPE_STRUCT_OPS) continue;
    struct bpf_link* link = bpf_map__attach_struct_ops(map);
    if (libbpf_get_error(link)) {
      fprintf(stderr, "lab_scx_load: registering %s failed\n", bpf_map__name(map));
      return 1;
    }
    // Keep the registration when this process exits (what bpftool does too).
    bpf_link__disconnect(link);
    bpf_link__destroy(link);
    printf("registered %s\n", bpf_map__name(map));
    registered++;
  }
  if (!registered) {
    fprintf(stderr, "lab_scx_load: %s has no struct_ops map\n", argv[1]);
    return 1;
  }
  return 0;
}
