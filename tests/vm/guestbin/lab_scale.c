// lab-link: -lbpf -lelf -lz
// lab_scale OBJ ENTRIES VALUE_SIZE MAPS TASKS PIN_DIR: the `scale` scenario's state in one
// process (each process costs ~0.1-0.2 s under TCG). Loads OBJ (scale.bpf.o) with only the MAPS
// hash maps of struct scale_val<VALUE_SIZE> (16, 64 or 256) and their fill programs, sized to
// ENTRIES, runs each fill program once through BPF_PROG_RUN (it inserts keys 0..ENTRIES-1 with
// bpf_loop), pins the maps as PIN_DIR/scale_h<SIZE>_<i>, then forks TASKS children named
// lab_scale_idle that sleep in pause() forever, and exits once all of them exist.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_MAPS 4              // SCALE_MAP definitions per size in scale.bpf.c
#define MAX_ENTRIES (1u << 23)  // bpf_loop's limit
#define MAX_TASKS 20000         // well below the default pid_max (32768)

struct scale_args {  // scale.bpf.c's BPF_PROG_RUN context
  unsigned int entries;
  unsigned int reserved;
};

static long parse(const char* what, const char* s, long lo, long hi) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "lab_scale: %s %s: expected an integer in %ld..%ld\n", what, s, lo, hi);
    exit(2);
  }
  return v;
}

// Creates only the maps and programs of the chosen size and count.
static int select_parts(struct bpf_object* obj, long size, long maps, long entries) {
  struct bpf_map* map;
  bpf_object__for_each_map(map, obj) {
    long s, i;
    if (sscanf(bpf_map__name(map), "scale_h%ld_%ld", &s, &i) != 2) continue;
    bool used = s == size && i < maps;
    if (bpf_map__set_autocreate(map, used) || (used && bpf_map__set_max_entries(map, entries)))
      return -1;
  }
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, obj) {
    long s, i;
    if (sscanf(bpf_program__name(prog), "scale_fill%ld_%ld", &s, &i) != 2) continue;
    if (bpf_program__set_autoload(prog, s == size && i < maps)) return -1;
  }
  return 0;
}

static int fill_and_pin(struct bpf_object* obj, long size, long maps, long entries,
                        const char* pin_dir) {
  for (long i = 0; i < maps; i++) {
    char name[32], path[256];
    snprintf(name, sizeof(name), "scale_fill%ld_%ld", size, i);
    struct bpf_program* prog = bpf_object__find_program_by_name(obj, name);
    if (!prog) {
      fprintf(stderr, "lab_scale: no program %s\n", name);
      return -1;
    }
    struct scale_args args = {.entries = (unsigned int)entries};
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args, .ctx_size_in = sizeof(args));
    int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
    if (err || opts.retval) {
      fprintf(stderr, "lab_scale: %s: run error %d, retval %d\n", name, err, (int)opts.retval);
      return -1;
    }
    snprintf(name, sizeof(name), "scale_h%ld_%ld", size, i);
    snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
    struct bpf_map* map = bpf_object__find_map_by_name(obj, name);
    if (!map || bpf_map__pin(map, path)) {
      fprintf(stderr, "lab_scale: pinning %s at %s failed\n", name, path);
      return -1;
    }
  }
  return 0;
}

// The children only sleep; their parent's exit hands them to init, which reaps nothing until
// the guest goes down.
static long fork_sleepers(long tasks) {
  long n = 0;
  for (; n < tasks; n++) {
    pid_t pid = fork();
    if (pid < 0) break;
    if (pid == 0) {
      prctl(PR_SET_NAME, "lab_scale_idle");
      for (;;) pause();
    }
  }
  return n;
}

int main(int argc, char** argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: lab_scale OBJ ENTRIES VALUE_SIZE MAPS TASKS PIN_DIR\n");
    return 2;
  }
  long entries = parse("ENTRIES", argv[2], 1, MAX_ENTRIES);
  long size = parse("VALUE_SIZE", argv[3], 16, 256);
  long maps = parse("MAPS", argv[4], 1, MAX_MAPS);
  long tasks = parse("TASKS", argv[5], 0, MAX_TASKS);
  if (size != 16 && size != 64 && size != 256) {
    fprintf(stderr, "lab_scale: VALUE_SIZE %ld: supported sizes are 16, 64 and 256\n", size);
    return 2;
  }
  struct bpf_object* obj = bpf_object__open_file(argv[1], NULL);
  if (libbpf_get_error(obj)) {
    fprintf(stderr, "lab_scale: cannot open %s\n", argv[1]);
    return 1;
  }
  if (select_parts(obj, size, maps, entries) || bpf_object__load(obj)) {
    fprintf(stderr, "lab_scale: loading %s failed\n", argv[1]);
    return 1;
  }
  if (fill_and_pin(obj, size, maps, entries, argv[6])) return 1;
  // The pins keep the maps; the programs go with the object.
  bpf_object__close(obj);
  printf("lab_scale: %ld map(s) of %ld entries, value struct scale_val%ld\n", maps, entries, size);
  fflush(stdout);
  long forked = fork_sleepers(tasks);
  if (forked != tasks) {
    fprintf(stderr, "lab_scale: forked %ld of %ld tasks: %s\n", forked, tasks, strerror(errno));
    return 1;
  }
  printf("lab_scale: %ld lab_scale_idle tasks\n", forked);
  return 0;
}
