/* sched_ext kfunc declarations matching the guest kernel's BTF.
 *
 * libbpf refuses an extern kfunc whose prototype differs from the kernel's, and kfuncs move between
 * releases: 6.16 still has scx_bpf_dispatch/scx_bpf_consume next to scx_bpf_dsq_insert/
 * scx_bpf_dsq_move_to_local (6.17 drops the old names); 7.x kfuncs take an implicit trailing
 * `struct bpf_prog_aux *aux` that the verifier fills in through an `<name>_impl` twin, and a kernel
 * whose BTF lacks that twin (Debian's 7.1: scx_bpf_create_dsq, scx_bpf_dsq_nr_queued) cannot have
 * those kfuncs called at all. lab_kfunc_arity.h, generated at build time from the kernel's BTF,
 * says for each kfunc whether it is there and callable (LAB_KF_<NAME>) and its visible arity
 * (LAB_KF_<NAME>_NARGS); the lab_* wrappers below give the programs one spelling for every kernel.
 */
#pragma once

#include "lab_kfunc_arity.h"

/* lab_dsq_insert(p, dsq, slice, enq_flags) */
#if LAB_KF_SCX_BPF_DSQ_INSERT && LAB_KF_SCX_BPF_DSQ_INSERT_NARGS == 4
extern void scx_bpf_dsq_insert(struct task_struct* p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
#define lab_dsq_insert(p, dsq, slice, flags) scx_bpf_dsq_insert(p, dsq, slice, flags)
#elif LAB_KF_SCX_BPF_DISPATCH && LAB_KF_SCX_BPF_DISPATCH_NARGS == 4
extern void scx_bpf_dispatch(struct task_struct* p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
#define lab_dsq_insert(p, dsq, slice, flags) scx_bpf_dispatch(p, dsq, slice, flags)
#else
#error "no callable scx_bpf_dsq_insert/scx_bpf_dispatch in this kernel (see lab_kfunc_arity.h)"
#endif

/* lab_dsq_move_to_local(dsq): bool */
#if LAB_KF_SCX_BPF_DSQ_MOVE_TO_LOCAL && LAB_KF_SCX_BPF_DSQ_MOVE_TO_LOCAL_NARGS == 1
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
#define lab_dsq_move_to_local(dsq) scx_bpf_dsq_move_to_local(dsq)
#elif LAB_KF_SCX_BPF_CONSUME && LAB_KF_SCX_BPF_CONSUME_NARGS == 1
extern bool scx_bpf_consume(u64 dsq_id) __ksym;
#define lab_dsq_move_to_local(dsq) scx_bpf_consume(dsq)
#else
#error \
    "no callable scx_bpf_dsq_move_to_local/scx_bpf_consume in this kernel (see lab_kfunc_arity.h)"
#endif

/* lab_create_dsq(dsq, node): s32, 0 on success. LAB_HAVE_USER_DSQ is 0 where the kernel offers
 * no callable scx_bpf_create_dsq (Debian's 7.1): no BPF program can create a user DSQ there, and
 * the schedulers fall back to built-in DSQs (see their sources). */
#if LAB_KF_SCX_BPF_CREATE_DSQ && LAB_KF_SCX_BPF_CREATE_DSQ_NARGS == 2
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
#define lab_create_dsq(dsq, node) scx_bpf_create_dsq(dsq, node)
#define LAB_HAVE_USER_DSQ 1
#else
#define LAB_HAVE_USER_DSQ 0
#endif

/* lab_dsq_nr_queued(dsq): s32 tasks queued on dsq (-1: this kernel offers no way to count) */
#if LAB_KF_SCX_BPF_DSQ_NR_QUEUED && LAB_KF_SCX_BPF_DSQ_NR_QUEUED_NARGS == 1
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
#define lab_dsq_nr_queued(dsq) scx_bpf_dsq_nr_queued(dsq)
#elif LAB_KF_BPF_ITER_SCX_DSQ_NEW && LAB_KF_BPF_ITER_SCX_DSQ_NEW_NARGS == 3 && \
    LAB_KF_BPF_ITER_SCX_DSQ_NEXT && LAB_KF_BPF_ITER_SCX_DSQ_DESTROY
/* Count by walking the DSQ with the open-coded DSQ iterator. */
extern int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq* it, u64 dsq_id, u64 flags) __ksym;
extern struct task_struct* bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq* it) __ksym;
extern void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq* it) __ksym;
static __always_inline s32 lab_dsq_nr_queued(u64 dsq_id) {
  struct bpf_iter_scx_dsq it;
  s32 n = 0;
  if (bpf_iter_scx_dsq_new(&it, dsq_id, 0) == 0)
    while (bpf_iter_scx_dsq_next(&it)) n++;
  bpf_iter_scx_dsq_destroy(&it);
  return n;
}
#else
#define lab_dsq_nr_queued(dsq) ((s32)-1)
#endif

/* What ops.exit saw, kept in .bss so `lab truth` (map dumps) shows why a scheduler left. */
struct lab_exit_record {
  u32 seen;
  s32 kind; /* enum scx_exit_kind: >= SCX_EXIT_ERROR (1024) is an error-class exit */
  s64 exit_code;
  char reason[64];
  char msg[128];
};

static __always_inline void lab_record_exit(struct lab_exit_record* rec, struct scx_exit_info* ei) {
  rec->kind = ei->kind;
  rec->exit_code = ei->exit_code;
  bpf_probe_read_kernel_str(rec->reason, sizeof(rec->reason), ei->reason);
  bpf_probe_read_kernel_str(rec->msg, sizeof(rec->msg), ei->msg);
  rec->seen = 1;
}

/* Lab workloads are named lab_*; the schedulers route them to user DSQs. */
static __always_inline bool lab_comm_is(const struct task_struct* p, const char* prefix, int len) {
  for (int i = 0; i < len; i++)
    if (p->comm[i] != prefix[i]) return false;
  return true;
}
