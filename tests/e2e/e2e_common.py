"""What every e2e script shares: the lab client, one failure type and its check, the command line,
running a kfreeze binary, proto3 JSON integers, the guest's task list, the PASS/FAIL ending."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm"))
import labclient  # noqa: E402  (the scripts take it from here)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def arg_parser(doc, guest_name, *binaries):
    """The script's command line: its docstring as --help, a required --BINARY path for each of
    `binaries` (e.g. "kfreezed", "kfreeze") and --name, the lab guest's name (default
    `guest_name`; distinct names let scripts share one VM cache)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for b in binaries:
        ap.add_argument(f"--{b}", required=True, help=f"path of the {b} binary")
    ap.add_argument("--name", default=guest_name, help="lab guest name (default %(default)s)")
    return ap


def run_tool(cmd, what=None, timeout=300):
    """Runs a kfreeze binary: its CompletedProcess (bytes), or Failure with its exit status and
    stderr."""
    res = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    check(res.returncode == 0, f"{what or ' '.join(map(str, cmd))} exited {res.returncode}: "
                               f"{res.stderr.decode(errors='replace').strip()[-2000:]}")
    return res


def u(v):
    """A proto3 JSON 64-bit integer (a string) or a ktstr JSON number; absent reads 0."""
    return int(v) if v is not None else 0


# Every thread's /proc stat line, one a line; parse_task_stats reads them.
TASK_STATS = "for d in /proc/[0-9]*/task/[0-9]*; do cat $d/stat 2>/dev/null; echo; done"


def parse_task_stats(text):
    """{pid: comm} from TASK_STATS output (the comm is between the first '(' and the last ')')."""
    procs = {}
    for line in text.splitlines():
        o, c = line.find("("), line.rfind(")")
        if o > 0 and c > o:
            procs[int(line[:o])] = line[o + 1:c]
    return procs


def guest_procs(g):
    """The guest's threads now, {pid: comm}."""
    res = g.exec(TASK_STATS)
    check(res.rc == 0, f"reading the guest's task list failed: {res}")
    return parse_task_stats(res.stdout)


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


def outcome(body):
    """Runs body() and gives the exit status. A body that returns nothing passed: PASS is printed
    here. One that returns a status has printed its own verdict (e.g. run_checks). A Failure or a
    lab guest that could not run prints FAIL with the reason."""
    try:
        rc = body()
    except labclient.LabFailure as e:
        print(f"FAIL: could not run the lab guest: {e}", file=sys.stderr, flush=True)
        return 1
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr, flush=True)
        return 1
    if rc is None:
        print("PASS", flush=True)
        return 0
    return rc


def run_checks(checks):
    """Runs each (name, fn), goes on after a failure and reports them all; returns the exit status."""
    failed = 0
    for name, fn in checks:
        try:
            fn()
            print(f"PASS {name}", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
    print(f"{len(checks) - failed}/{len(checks)} checks passed", flush=True)
    return 1 if failed else 0


# A guest kernel oops under TCG (int3 left at a patched text site) that some boots hit; scripts
# that boot their own guest retry once when its console shows it.
FLAKE_MARK = "Oops: int3"


def died_of_flake(console):
    """The console log's path when the guest died of the TCG int3 flake, else None."""
    try:
        text = console.read_text(errors="replace") if console else ""
    except OSError:
        return None
    return str(console) if FLAKE_MARK in text else None


def outcome_retrying_flake(run):
    """outcome(run(guest)) with one fresh-guest retry when the guest kernel died of the TCG int3
    flake (sched_ext patching its static keys under multi-threaded TCG: the emulator, not kfreeze).
    `run` records its guest's console path as guest["console"]."""
    for attempt in (1, 2):
        guest = {}
        rc = outcome(lambda: run(guest))
        flake = died_of_flake(guest.get("console"))
        if rc == 0 or not flake or attempt == 2:
            return rc
        print(f"retrying: the guest kernel hit the TCG '{FLAKE_MARK}' oops ({flake})", file=sys.stderr)
    return 1


def dump_single(kfreeze, g):
    """`kfreeze dump --format proto-json` of lab guest g (no daemon): its single report."""
    res = run_tool([kfreeze, "dump", "--ram", g.ram, "--qmp", g.qmp, "--format", "proto-json"],
                   "kfreeze dump --format proto-json")
    envelope = json.loads(res.stdout)
    check("single" in envelope, f"kfreeze dump gave no single report: {list(envelope)}")
    return envelope["single"]
