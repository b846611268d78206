#!/usr/bin/python3
"""Kernel stacks in a real guest (ctest label `vm`): kfreeze's kernel_stack of a task equals the
guest kernel's own /proc/PID/stack.

Scenario `idle`: nothing but the test's tasks runs, so `dd` has a vCPU to itself (the dd check
needs it running when the guest is frozen) and the guest's command channel stays responsive under
TCG. The stacks under test do not depend on a sched_ext scheduler.

In the guest, each detached (setsid, stdio on /dev/null):
  - `sleep 1000`                          parked in nanosleep;
  - `cat /tmp/kf_fifo` on a FIFO          blocked in the FIFO open (no writer);
  - `sh -c 'sleep 1000 | cat'`            the `cat` blocked reading the pipe;
  - `sh -c 'sleep 1000; echo done'`       the `sh` blocked in wait4;
  - `dd if=/dev/zero of=/dev/null bs=4M`  running, mostly in the kernel (clear_user).
Then `kfreeze dump --format proto-json`, and right after it each sleeper's /proc/PID/stack (the
tasks stay parked). Checks:
  - for each sleeper, the /proc/PID/stack frames ("name+0xoff/0xsize"; the kernel leaves out the
    scheduler's __sched functions) appear in order within kfreeze's kernel_stack symbols for that
    pid, and kernel_stack_origin is "thread.sp" (arm64: "thread.cpu_context");
  - dd: running, kernel_stack_origin "vcpu N"; when vCPU N was in kernel mode (x86 cs & 3 == 0,
    arm64 EL > 0) the first frame's pc is that vCPU's pc. The dump is retried (up to 10 dumps)
    until dd is caught running in kernel mode; never catching it fails.
Every comparison prints both stacks. A guest that cannot boot fails the test with the reason.

Usage: kernel_stacks_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze [--name GUEST] [--arch arm64]
"""

import sys

from e2e_common import (arg_parser, check, dump_single, Failure, guest_arch, labclient, outcome,
                        run_checks, u)

SCENARIO = "idle"
DD_ATTEMPTS = 10

# Starts the tasks under test and prints "ROLE PID" for those it can name by $!.
START = """
cd /
setsid sleep 1000 </dev/null >/dev/null 2>&1 & echo "nanosleep $!"
rm -f /tmp/kf_fifo; mkfifo /tmp/kf_fifo
setsid cat /tmp/kf_fifo </dev/null >/dev/null 2>&1 & echo "fifo_open $!"
setsid sh -c 'sleep 1000 | cat' </dev/null >/dev/null 2>&1 & echo "pipe_parent $!"
setsid sh -c 'sleep 1000; echo done' </dev/null >/dev/null 2>&1 & echo "wait4 $!"
setsid dd if=/dev/zero of=/dev/null bs=4M </dev/null >/dev/null 2>&1 & echo "dd $!"
"""

# "PID PPID STATE COMM" for every process (comm without spaces for the tasks under test).
PS = ("for s in /proc/[0-9]*/stat; do read -r line < $s 2>/dev/null || continue; "
      "p=${line%% *}; r=${line##*) }; set -- $r; c=${line#*(}; c=${c%)*}; "
      "echo \"$p $2 $1 $c\"; done")

# What each sleeper's own stack must show once it is parked (a sanity check of the guest side;
# 6.x calls the pipe read pipe_read, 7.x anon_pipe_read).
# Where a sleeping task's stack starts: the switch frame each architecture saves.
SWITCH_FRAME = {"x86_64": "thread.sp", "arm64": "thread.cpu_context"}

PARKED_IN = {"nanosleep": "nanosleep", "fifo_open": "fifo_open", "pipe_read": "pipe_read",
             "wait4": "do_wait"}


def guest_ps(g):
    """{pid: (ppid, state, comm)} of the guest's processes now."""
    res = g.exec(PS, check=True)
    procs = {}
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            procs[int(parts[0])] = (int(parts[1]), parts[2], parts[3])
    return procs


def start_tasks(g):
    """{role: pid} for nanosleep, fifo_open, pipe_read, wait4 and dd."""
    roles = {}
    for line in g.exec(START, check=True).stdout.splitlines():
        role, _, pid = line.partition(" ")
        if pid.strip().isdigit():
            roles[role] = int(pid)
    check(set(roles) == {"nanosleep", "fifo_open", "pipe_parent", "wait4", "dd"},
          f"the guest did not start every task: {roles}")
    parent = roles.pop("pipe_parent")
    procs = guest_ps(g)
    readers = [p for p, (ppid, _, comm) in procs.items() if ppid == parent and comm == "cat"]
    check(len(readers) == 1, f"no single `cat` child of the pipeline shell {parent}: {procs}")
    roles["pipe_read"] = readers[0]
    return roles


def proc_stacks(g, pids):
    """{pid: [frame, ...]} from /proc/PID/stack ("[<0>] name+0xoff/0xsize" -> "name+0xoff/0xsize")."""
    script = "; ".join(f"echo '=== {p}'; cat /proc/{p}/stack" for p in pids)
    out = {p: [] for p in pids}
    cur = None
    for line in g.exec(script, check=True).stdout.splitlines():
        if line.startswith("=== "):
            cur = int(line[4:])
        elif cur is not None and line.strip():
            frame = line.split("] ", 1)[1] if "] " in line else line.strip()
            out[cur].append(frame.strip())
    return out


def wait_parked(g, sleepers):
    """Waits (up to ~20 s) until every sleeper's own stack shows where it blocks."""
    stacks = {}
    for _ in range(40):
        stacks = proc_stacks(g, sleepers.values())
        if all(any(PARKED_IN[role] in f for f in stacks[pid]) for role, pid in sleepers.items()):
            return
        g.exec("usleep 500000")
    raise Failure(f"the tasks did not block where expected: {stacks}")



def task_of(report, pid):
    for t in report.get("task_enrichments", []):
        if int(t.get("pid", 0)) == pid:
            return t
    raise Failure(f"pid {pid} is not among the report's {len(report.get('task_enrichments', []))} "
                  f"tasks (task_enrichments_unavailable: {report.get('task_enrichments_unavailable')})")


def our_frames(task):
    return [f.get("symbol", "") or hex(u(f.get("pc"))) for f in task.get("kernel_stack", [])]


def show(title, frames):
    print(f"  {title}:", flush=True)
    for f in frames or ["(none)"]:
        print(f"    {f}", flush=True)


def in_order(wanted, frames):
    """The first of `wanted` that cannot be matched in order within `frames`, or None."""
    it = iter(frames)
    for w in wanted:
        if not any(f == w for f in it):
            return w
    return None


def no_offset(symbol):
    """"name+0xoff/0xsize [mod]" -> "name [mod]"."""
    name, _, rest = symbol.partition("+")
    mod = rest[rest.find(" ["):] if " [" in rest else ""
    return name + mod


def check_sleeper(report, role, pid, proc_stack):
    task = task_of(report, pid)
    ours = our_frames(task)
    print(f"{role}: pid {pid} ({task.get('comm')}) state {task.get('state_char')} "
          f"origin {task.get('kernel_stack_origin')!r}", flush=True)
    show("kfreeze kernel_stack", ours)
    show(f"/proc/{pid}/stack", proc_stack)
    if task.get("kernel_stack_unavailable"):
        print(f"  kernel_stack_unavailable: {task['kernel_stack_unavailable']}", flush=True)
    check(proc_stack, f"/proc/{pid}/stack is empty")
    check(ours, f"pid {pid} has no kernel_stack (kernel_stack_unavailable: "
                f"{task.get('kernel_stack_unavailable')!r}, report kernel_stacks_unavailable: "
                f"{report.get('kernel_stacks_unavailable')!r})")
    want = SWITCH_FRAME[guest_arch()]
    check(task.get("kernel_stack_origin") == want,
          f"pid {pid}: kernel_stack_origin {task.get('kernel_stack_origin')!r}, want {want!r}")
    if all("+0x" in f for f in proc_stack):
        missing = in_order(proc_stack, ours)
        how = "full name+0xoff/0xsize"
    else:
        # A guest that prints names without offsets: compare the names.
        missing = in_order([no_offset(f) for f in proc_stack], [no_offset(f) for f in ours])
        how = "names only (the guest printed frames without offsets)"
    print(f"  compared: {how}", flush=True)
    check(missing is None, f"pid {pid}: /proc frame {missing!r} not found in order in kfreeze's stack")


def dd_caught(report, pid):
    """(verdict, detail): "kernel" when dd ran in kernel mode and its stack was checked; "retry"
    when dd was not running or ran in user mode; Failure for a contract violation."""
    task = task_of(report, pid)
    ours = our_frames(task)
    origin = task.get("kernel_stack_origin", "")
    print(f"dd: pid {pid} state {task.get('state_char')} running={bool(task.get('is_running'))} "
          f"cpu {task.get('cpu', 0)} origin {origin!r}", flush=True)
    if not task.get("is_running"):
        return "retry", f"not running (state {task.get('state_char')}, origin {origin!r})"
    check(origin.startswith("vcpu "), f"dd runs but kernel_stack_origin is {origin!r}, want 'vcpu N'")
    n = int(origin.split()[1])
    slots = report.get("vcpu_regs", [])
    check(n < len(slots) and "regs" in slots[n], f"dd runs on vcpu {n}, which has no registers")
    regs = slots[n]["regs"]
    pc, user = vcpu_pc_and_user_mode(regs, n)
    print(f"  vcpu {n}: pc={pc:#x} ({regs.get('ip_symbol')}) user_mode={user} "
          f"instruction_pointer={u(regs.get('instruction_pointer')):#x}", flush=True)
    show("kfreeze kernel_stack", ours)
    if user:
        return "retry", f"on vcpu {n} in user mode"
    check(ours, f"dd has no kernel_stack (kernel_stack_unavailable: "
                f"{task.get('kernel_stack_unavailable')!r}, report kernel_stacks_unavailable: "
                f"{report.get('kernel_stacks_unavailable')!r})")
    first = u(task["kernel_stack"][0].get("pc"))
    check(first == pc, f"dd's first frame pc {first:#x} != vcpu {n} pc {pc:#x}")
    return "kernel", f"first frame {ours[0]} at pc {pc:#x}"


def vcpu_pc_and_user_mode(regs, n):
    """The vCPU's pc and whether it was in user mode: x86 rip and cs & 3, arm64 pc and EL 0."""
    if guest_arch() == "arm64":
        check("arm64" in regs, f"vcpu {n} has no arm64 register set")
        arm = regs["arm64"]
        return u(arm.get("pc")), u(arm.get("el")) == 0
    check("x86" in regs, f"vcpu {n} has no x86 register set")
    x86 = regs["x86"]
    return u(x86.get("rip")), bool(u(x86.get("cs")) & 3)


def run(args):
    with labclient.guest(args.name, SCENARIO) as g:
        roles = start_tasks(g)
        print(f"tasks: {roles}", flush=True)
        sleepers = {r: p for r, p in roles.items() if r != "dd"}
        wait_parked(g, sleepers)
        report = dump_single(args.kfreeze, g)
        # Right after the dump: the sleepers are still parked where the freeze saw them.
        stacks = proc_stacks(g, sleepers.values())
        if report.get("kernel_stacks_unavailable"):
            print(f"report kernel_stacks_unavailable: {report['kernel_stacks_unavailable']}", flush=True)

        def sleeper_check(role, pid):
            return lambda: check_sleeper(report, role, pid, stacks[pid])

        def dd_check():
            tries = []
            current = report
            for attempt in range(1, DD_ATTEMPTS + 1):
                verdict, detail = dd_caught(current, roles["dd"])
                print(f"dd attempt {attempt}: {verdict}: {detail}", flush=True)
                if verdict == "kernel":
                    return
                tries.append(detail)
                if attempt < DD_ATTEMPTS:
                    current = dump_single(args.kfreeze, g)
            raise Failure(f"dd never caught running in kernel mode in {DD_ATTEMPTS} dumps: {tries}")

        checks = [(f"{role} (pid {pid}) stack matches /proc/{pid}/stack", sleeper_check(role, pid))
                  for role, pid in sleepers.items()]
        checks.append(("dd's stack starts at its vCPU's pc", dd_check))
        return run_checks(checks)


def main():
    ap = arg_parser(__doc__, "e2e-kernel-stacks", "kfreeze")
    args = ap.parse_args()
    return outcome(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
