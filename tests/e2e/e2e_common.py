"""What every e2e script shares: one failure type and its check, proto3 JSON integers, the
PASS/FAIL ending."""

import sys


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def u(v):
    """A proto3 JSON 64-bit integer (a string) or a ktstr JSON number; absent reads 0."""
    return int(v) if v is not None else 0


def comm_matches(comm, known):
    """task->comm is TASK_COMM_LEN (16) bytes; /proc shows a kthread's full name beyond it and a
    kworker's current workqueue after a dash (wq_worker_comm)."""
    longer = len(comm) == 15 or (comm.startswith("kworker/") and known.startswith(comm + "-"))
    return known == comm or (longer and known.startswith(comm))


def check_task_identity(pid, comm, before, after):
    """A dumped task must be in the guest's process list read before or after the dump, with the
    same comm. A short-lived task (e.g. the command channel's own `rm`) can live only between the
    two readings: its pid then lies between their highest pids (pids rise in a fresh guest), which
    is all that can be checked of it."""
    known = {**before, **after}
    if pid not in known:
        check(max(before, default=0) < pid < max(after, default=0),
              f"task pid {pid} ({comm}) not in the guest's process list")
        return
    check(comm_matches(comm, known[pid]), f"task pid {pid}: comm {comm!r} != guest {known[pid]!r}")


def outcome(body, lab_failure):
    """Runs body(); prints PASS, or FAIL with the reason. Returns the exit status."""
    try:
        body()
    except lab_failure as e:
        print(f"FAIL: could not run the lab guest: {e}", file=sys.stderr)
        return 1
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    print("PASS")
    return 0
