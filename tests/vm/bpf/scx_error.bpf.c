/* scx-error: a global-FIFO scheduler that fails on purpose from inside its own BPF code.
 *
 * ops.enqueue (lab_error_enqueue) puts every task on SCX_DSQ_GLOBAL. Once error_after_ns has
 * passed since ops.init, the next ops.enqueue calls scx_bpf_error(), so the kernel ejects the
 * scheduler with SCX_EXIT_ERROR_BPF (1025) and the error is raised on the vCPU that runs the
 * enqueue, with the JIT'd lab_error_enqueue on its kernel stack (scx_bpf_error_bstr -> scx_vexit
 * -> the exit_kind write). That stack is what a watchpoint on exit_kind catches.
 *
 * For tasks named lab_spin* ops.enqueue also spins for spin_ns (through bpf_loop, so the verifier
 * checks the callback once) and gives them a slice of the same length: the CPU-bound workload
 * then spends about half of its vCPU's time inside the BPF program, and a freeze at a random
 * moment often finds a vCPU there (kernel stack: ktime / lab_error_spin_step -> bpf_loop ->
 * lab_error_enqueue -> the struct_ops trampoline -> do_enqueue_task). The other tasks (the lab's
 * command channel) never spin.
 *
 * SCX_OPS_ENQ_LAST: a CPU-bound task alone on its CPU goes back through ops.enqueue at every
 * slice end instead of being kept running, so lab_spin keeps spinning in the program.
 *
 * lab_error_cfg (array, one struct lab_error_cfg) overrides the defaults at run time; a zero
 * field keeps the default. The scenario writes it right after loading, tests later (e.g. to
 * raise the error at a moment they choose: error_after_ns = 1).
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab_scx.h"

char _license[] SEC("license") = "GPL";

#define LAB_ERROR_AFTER_NS_DFL 6000000000ULL  // 6 s after ops.init
#define LAB_SPIN_NS_DFL 4000000ULL            // 4 ms per lab_spin enqueue
#define LAB_SPIN_MAX_STEPS (1U << 22)         // bounds the spin whatever the clock does

/* The visible prototype on every supported kernel (7.x hides its aux behind an _impl twin). */
extern void scx_bpf_error_bstr(char* fmt, unsigned long long* data, u32 data__sz) __ksym;

struct lab_error_cfg {
  u64 error_after_ns; /* 0: LAB_ERROR_AFTER_NS_DFL */
  u64 spin_ns;        /* 0: LAB_SPIN_NS_DFL; spinning is off with ~0 */
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, u32);
  __type(value, struct lab_error_cfg);
} lab_error_cfg SEC(".maps");

u64 lab_armed_at_ns;
u64 lab_nr_enq;
u64 lab_nr_spins;
u64 lab_error_raised_ms; /* ms after ops.init at the scx_bpf_error() call */
u32 lab_error_raised;
struct lab_exit_record lab_exit_rec;

struct lab_spin_ctx {
  u64 until_ns;
};

/* A bpf_loop step: stop once the deadline is reached. */
static long lab_error_spin_step(u32 index, void* data) {
  struct lab_spin_ctx* ctx = data;
  return bpf_ktime_get_ns() >= ctx->until_ns ? 1 : 0;
}

/* scx_bpf_error() as the scx library spells it: the format in a writable global (the kfunc's
 * char *fmt must be writable memory), the arguments in a u64 array. Inlined, so
 * scx_bpf_error_bstr sits right above lab_error_enqueue on the stack. */
static __always_inline void lab_raise_error(u64 elapsed_ms) {
  static char fmt[] = "lab_error: raised in ops.enqueue %llu ms after ops.init";
  unsigned long long args[1] = {elapsed_ms};
  scx_bpf_error_bstr(fmt, args, sizeof(args));
}

SEC("struct_ops/lab_error_enqueue")
void BPF_PROG(lab_error_enqueue, struct task_struct* p, u64 enq_flags) {
  u32 zero = 0;
  struct lab_error_cfg* cfg = bpf_map_lookup_elem(&lab_error_cfg, &zero);
  u64 error_after = cfg && cfg->error_after_ns ? cfg->error_after_ns : LAB_ERROR_AFTER_NS_DFL;
  u64 spin_ns = cfg && cfg->spin_ns ? cfg->spin_ns : LAB_SPIN_NS_DFL;
  u64 slice = SCX_SLICE_DFL;
  u64 now = bpf_ktime_get_ns();

  __sync_fetch_and_add(&lab_nr_enq, 1);
  if (now - lab_armed_at_ns >= error_after && !lab_error_raised) {
    lab_error_raised = 1;
    lab_error_raised_ms = (now - lab_armed_at_ns) / 1000000;
    lab_raise_error(lab_error_raised_ms);
  }
  if (spin_ns != ~0ULL && lab_comm_is(p, "lab_spin", 8)) {
    struct lab_spin_ctx ctx = {.until_ns = now + spin_ns};
    bpf_loop(LAB_SPIN_MAX_STEPS, lab_error_spin_step, &ctx, 0);
    __sync_fetch_and_add(&lab_nr_spins, 1);
    slice = spin_ns;
  }
  lab_dsq_insert(p, SCX_DSQ_GLOBAL, slice, enq_flags);
}

SEC("struct_ops/lab_error_init")
s32 BPF_PROG(lab_error_init) {
  lab_armed_at_ns = bpf_ktime_get_ns();
  return 0;
}

SEC("struct_ops/lab_error_exit")
void BPF_PROG(lab_error_exit, struct scx_exit_info* ei) { lab_record_exit(&lab_exit_rec, ei); }

SEC(".struct_ops")
struct sched_ext_ops lab_error = {
    .enqueue = (void*)lab_error_enqueue,
    .init = (void*)lab_error_init,
    .exit = (void*)lab_error_exit,
    .flags = SCX_OPS_ENQ_LAST,
    .name = "lab_error",
};
