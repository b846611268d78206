/* scx-stall: a scheduler that starves one task group on purpose.
 *
 * Tasks named lab_stall* go to LAB_STALL_DSQ; ops.dispatch moves them to the local DSQ only
 * during the first lab_stall_after_ns after ops.init. After that they stay queued, and with
 * timeout_ms = 2000 the kernel watchdog ejects the scheduler with SCX_EXIT_ERROR_STALL
 * ("runnable task stall"). Everything else runs through SCX_DSQ_GLOBAL, so the guest (and its
 * command channel) stays responsive until the ejection and after it.
 *
 * SCX_OPS_ENQ_LAST: without it the kernel keeps the last runnable task of a CPU running when its
 * slice ends, never asking ops.enqueue. On a fast (KVM) guest with a vCPU to spare the CPU-bound
 * victim then owns its CPU forever and never starves; with the flag it goes back through
 * ops.enqueue at every slice end and is parked like any other wakeup.
 *
 * Where the kernel cannot create user DSQs from BPF (LAB_HAVE_USER_DSQ == 0, see lab_scx.h) the
 * victim goes to SCX_DSQ_GLOBAL while it may run (each such insert counts in lab_nr_moved) and is
 * then not inserted anywhere: still runnable, never run, the same watchdog ejection.
 */
#include "vmlinux.h"  // first: the headers below need its types

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "lab_scx.h"

char _license[] SEC("license") = "GPL";

#define LAB_STALL_DSQ 0x5354ULL
#define LAB_STALL_TIMEOUT_MS 2000

const volatile u64 lab_stall_dsq_id = LAB_STALL_DSQ;
const volatile u64 lab_stall_after_ns = 4000000000ULL;
const volatile u32 lab_has_user_dsq = LAB_HAVE_USER_DSQ;
u64 lab_armed_at_ns;
u64 lab_nr_enq_stall;
u64 lab_nr_moved;
u32 lab_stalling;
s32 lab_init_ret = -1;
struct lab_exit_record lab_exit_rec;

SEC("struct_ops/lab_stall_enqueue")
void BPF_PROG(lab_stall_enqueue, struct task_struct* p, u64 enq_flags) {
  if (lab_comm_is(p, "lab_stall", 9)) {
    __sync_fetch_and_add(&lab_nr_enq_stall, 1);
#if LAB_HAVE_USER_DSQ
    lab_dsq_insert(p, LAB_STALL_DSQ, SCX_SLICE_DFL, enq_flags);
#else
    if (bpf_ktime_get_ns() - lab_armed_at_ns >= lab_stall_after_ns) {
      lab_stalling = 1;
      return;  // kept runnable but in no DSQ: the watchdog sees it starve
    }
    __sync_fetch_and_add(&lab_nr_moved, 1);
    lab_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
#endif
  } else {
    lab_dsq_insert(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, enq_flags);
  }
}

SEC("struct_ops/lab_stall_dispatch")
void BPF_PROG(lab_stall_dispatch, s32 cpu, struct task_struct* prev) {
  if (bpf_ktime_get_ns() - lab_armed_at_ns >= lab_stall_after_ns) {
    lab_stalling = 1;
    return;
  }
#if LAB_HAVE_USER_DSQ
  if (lab_dsq_move_to_local(LAB_STALL_DSQ)) __sync_fetch_and_add(&lab_nr_moved, 1);
#endif
}

SEC("struct_ops/lab_stall_init")
s32 BPF_PROG(lab_stall_init) {
  lab_armed_at_ns = bpf_ktime_get_ns();
#if LAB_HAVE_USER_DSQ
  lab_init_ret = lab_create_dsq(LAB_STALL_DSQ, -1);
#else
  lab_init_ret = 0;
#endif
  return lab_init_ret;
}

SEC("struct_ops/lab_stall_exit")
void BPF_PROG(lab_stall_exit, struct scx_exit_info* ei) { lab_record_exit(&lab_exit_rec, ei); }

SEC(".struct_ops")
struct sched_ext_ops lab_stall = {
    .enqueue = (void*)lab_stall_enqueue,
    .dispatch = (void*)lab_stall_dispatch,
    .init = (void*)lab_stall_init,
    .exit = (void*)lab_stall_exit,
    .timeout_ms = LAB_STALL_TIMEOUT_MS,
    .flags = SCX_OPS_ENQ_LAST,
    .name = "lab_stall",
};
