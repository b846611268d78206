"""A report of the scx-running scenario against the guest's own view: what scx_running_e2e (the
walkers on the default kernel) and kernel_matrix_e2e (the CLI on every kernel of the matrix) both
check. Each script adds what only it can hold every kernel to."""

from e2e_common import check, check_task_identity, u

USER_DSQ_ID = 0x4B46  # the scx-running scheduler's user DSQ
# Printed by the scenario when the kernel lets no BPF program create a user DSQ (Debian's 7.1:
# scx_bpf_create_dsq has no callable form); the scheduler then runs on the global DSQ only.
NO_USER_DSQ = "KFREEZE-SCX-NO-USER-DSQ"


def scheduler_made_user_dsq(g):
    return NO_USER_DSQ not in g.console.read_text(errors="replace")


def check_rq_per_cpu(report, nr_cpus):
    """One rq_scx_states entry per guest CPU; returns them."""
    check(not report.get("scx_walker_unavailable"), f"scx_walker_unavailable: {report.get('scx_walker_unavailable')}")
    rqs = report.get("rq_scx_states", [])
    check(sorted(r.get("cpu", 0) for r in rqs) == list(range(nr_cpus)),
          f"rq_scx_states cpus {[r.get('cpu', 0) for r in rqs]} != one per guest CPU ({nr_cpus})")
    return rqs


def check_scheduler_running(report, truth):
    """scx_sched_state names the scheduler sysfs shows, enabled, with no exit; returns it."""
    s = report.get("scx_sched_state")
    check(s is not None, "no scx_sched_state")
    check(s.get("ops_name") == truth["sched_ext"].get("root_ops"),
          f"ops_name {s.get('ops_name')!r} != /sys/kernel/sched_ext/root/ops {truth['sched_ext'].get('root_ops')!r}")
    check(s.get("enable_state") == truth["sched_ext"].get("state") == "enabled",
          f"enable_state {s.get('enable_state')!r}, sysfs {truth['sched_ext'].get('state')!r}")
    check(s.get("exit_kind", 0) == 0, f"running scheduler shows exit kind {s.get('exit_kind')}")
    return s


def check_tasks(report, before, after, min_lab_tasks):
    """Every task record is a guest task (pid and comm, see check_task_identity), one record per
    KVA, the scenario's lab_* workloads among them; returns the records by KVA."""
    tasks = report.get("task_enrichments", [])
    check(len(tasks) > 10, f"only {len(tasks)} task records ({report.get('task_enrichments_unavailable')})")
    by_kva = {u(t.get("task_kva")): t for t in tasks}
    check(len(by_kva) == len(tasks), "task records with duplicate KVAs")
    for t in tasks:
        pid, comm = t.get("pid", 0), t.get("comm", "")
        if pid == 0:
            check(comm.startswith("swapper/"), f"pid 0 task named {comm!r}")
            continue
        check_task_identity(pid, comm, before, after)
    lab_tasks = sum(1 for t in tasks if t.get("comm", "").startswith("lab_"))
    check(lab_tasks >= min_lab_tasks,
          f"{lab_tasks} of the scenario's lab_spin/lab_sleeper tasks, expected >= {min_lab_tasks}")
    return by_kva


def check_dsqs(report, by_kva, nr_cpus, user_dsq):
    """A local DSQ per CPU, the global one, the scheduler's user DSQ exactly when it made one, and
    each DSQ's depth equal to its listed tasks, all of which have task records; returns the DSQs."""
    dsqs = report.get("dsq_states", [])
    origins = {d["origin"] for d in dsqs}
    for want in [f"local cpu {c}" for c in range(nr_cpus)] + ["global node 0"]:
        check(want in origins, f"no DSQ with origin {want!r} (have {sorted(origins)})")
    user = [d for d in dsqs if d["origin"] == "user"]
    check(any(u(d["id"]) == USER_DSQ_ID for d in user) == user_dsq,
          f"user DSQ {hex(USER_DSQ_ID)} {'missing' if user_dsq else 'reported without the scheduler creating it'}: "
          f"{[hex(u(d['id'])) for d in user]}")
    for d in dsqs:
        kvas = [u(k) for k in d.get("task_kvas", [])]
        check(len(kvas) == d.get("nr", 0), f"DSQ {d['origin']}: nr {d.get('nr', 0)} != {len(kvas)} listed tasks")
        for k in kvas:
            check(k in by_kva, f"DSQ {d['origin']}: task KVA {hex(k)} has no task record")
    return dsqs
