/* sched_ext kfunc declarations matching the guest kernel's BTF.
 *
 * libbpf refuses an extern kfunc whose prototype differs from the kernel's, and the prototypes
 * move between releases: 7.2 lists a trailing `struct bpf_prog_aux *aux` (filled in by the
 * verifier) that 7.3 hides. lab_kfunc_arity.h, generated at build time from the kernel's BTF, says
 * which shape this kernel has; the lab_* macros give the programs one spelling for both.
 */
#pragma once

#include "lab_kfunc_arity.h"

#if LAB_KF_SCX_BPF_DSQ_INSERT_NARGS == 4
extern void scx_bpf_dsq_insert(struct task_struct* p, u64 dsq_id, u64 slice, u64 enq_flags) __ksym;
#define lab_dsq_insert(p, dsq, slice, flags) scx_bpf_dsq_insert(p, dsq, slice, flags)
#elif LAB_KF_SCX_BPF_DSQ_INSERT_NARGS == 5
extern void scx_bpf_dsq_insert(struct task_struct* p, u64 dsq_id, u64 slice, u64 enq_flags,
                               struct bpf_prog_aux* aux) __ksym;
#define lab_dsq_insert(p, dsq, slice, flags) scx_bpf_dsq_insert(p, dsq, slice, flags, NULL)
#else
#error "unsupported scx_bpf_dsq_insert signature"
#endif

#if LAB_KF_SCX_BPF_CREATE_DSQ_NARGS == 2
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
#define lab_create_dsq(dsq, node) scx_bpf_create_dsq(dsq, node)
#elif LAB_KF_SCX_BPF_CREATE_DSQ_NARGS == 3
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node, struct bpf_prog_aux* aux) __ksym;
#define lab_create_dsq(dsq, node) scx_bpf_create_dsq(dsq, node, NULL)
#else
#error "unsupported scx_bpf_create_dsq signature"
#endif

#if LAB_KF_SCX_BPF_DSQ_MOVE_TO_LOCAL_NARGS == 1
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;
#define lab_dsq_move_to_local(dsq) scx_bpf_dsq_move_to_local(dsq)
#elif LAB_KF_SCX_BPF_DSQ_MOVE_TO_LOCAL_NARGS == 2
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id, struct bpf_prog_aux* aux) __ksym;
#define lab_dsq_move_to_local(dsq) scx_bpf_dsq_move_to_local(dsq, NULL)
#else
#error "unsupported scx_bpf_dsq_move_to_local signature"
#endif

#if LAB_KF_SCX_BPF_DSQ_NR_QUEUED_NARGS == 1
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym;
#define lab_dsq_nr_queued(dsq) scx_bpf_dsq_nr_queued(dsq)
#elif LAB_KF_SCX_BPF_DSQ_NR_QUEUED_NARGS == 2
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id, struct bpf_prog_aux* aux) __ksym;
#define lab_dsq_nr_queued(dsq) scx_bpf_dsq_nr_queued(dsq, NULL)
#else
#error "unsupported scx_bpf_dsq_nr_queued signature"
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
