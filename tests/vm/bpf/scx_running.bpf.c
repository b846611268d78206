/* scx-running: a small sched_ext scheduler that keeps both kinds of DSQ busy.
 *
 * Lab workloads (comm lab_*) go to a user DSQ (LAB_USER_DSQ, created in ops.init) that
 * ops.dispatch moves to the local DSQ; everything else goes through SCX_DSQ_GLOBAL. With more
 * spinning lab tasks than CPUs the user DSQ is never empty. Counters in .bss record the traffic.
 *
 * Where the kernel cannot create user DSQs from BPF (LAB_HAVE_USER_DSQ == 0, see lab_scx.h) lab
 * tasks go to SCX_DSQ_GLOBAL too (still counted in lab_nr_enq_user); .rodata lab_has_user_dsq
 * says which mode was built, and lab_nr_moved stays 0.
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab_scx.h"

char _license[] SEC("license") = "GPL";

#define LAB_USER_DSQ 0x4b46ULL

const volatile u64 lab_user_dsq_id = LAB_USER_DSQ;
const volatile u32 lab_has_user_dsq = LAB_HAVE_USER_DSQ;
u64 lab_nr_enq_global;
u64 lab_nr_enq_user;
u64 lab_nr_dispatch;
u64 lab_nr_moved;
s32 lab_user_dsq_depth;
s32 lab_init_ret = -1;
struct lab_exit_record lab_exit_rec;

SEC("struct_ops/lab_enqueue")
void BPF_PROG(lab_enqueue, struct task_struct* p, u64 enq_flags) {
  if (lab_comm_is(p, "lab_", 4)) {
    __sync_fetch_and_add(&lab_nr_enq_user, 1);
    lab_dsq_insert(p, LAB_HAVE_USER_DSQ ? LAB_USER_DSQ : SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
  } else {
    __sync_fetch_and_add(&lab_nr_enq_global, 1);
    lab_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
  }
}

SEC("struct_ops/lab_dispatch")
void BPF_PROG(lab_dispatch, s32 cpu, struct task_struct* prev) {
  __sync_fetch_and_add(&lab_nr_dispatch, 1);
#if LAB_HAVE_USER_DSQ
  lab_user_dsq_depth = lab_dsq_nr_queued(LAB_USER_DSQ);
  if (lab_dsq_move_to_local(LAB_USER_DSQ)) __sync_fetch_and_add(&lab_nr_moved, 1);
#endif
}

SEC("struct_ops/lab_init")
s32 BPF_PROG(lab_init) {
#if LAB_HAVE_USER_DSQ
  lab_init_ret = lab_create_dsq(LAB_USER_DSQ, -1);
#else
  lab_init_ret = 0;
#endif
  return lab_init_ret;
}

SEC("struct_ops/lab_exit")
void BPF_PROG(lab_exit, struct scx_exit_info* ei) { lab_record_exit(&lab_exit_rec, ei); }

SEC(".struct_ops")
struct sched_ext_ops lab_running = {
    .enqueue = (void*)lab_enqueue,
    .dispatch = (void*)lab_dispatch,
    .init = (void*)lab_init,
    .exit = (void*)lab_exit,
    .name = "lab_running",
};
