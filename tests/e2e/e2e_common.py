"""What every e2e script shares: the lab client, one failure type and its check, the command line
(with the guest architecture), running a kfreeze binary, proto3 JSON integers, the guest's truth
and task list, the PASS/FAIL ending."""

import argparse
import json
import os
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


ARCH_ENV = "KFREEZE_VM_ARCH"  # the lab's guest architecture (tests/vm/labkit/arch.py)
ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64"}


def guest_arch():
    """The architecture the lab boots for this script: x86_64 (default) or arm64."""
    name = os.environ.get(ARCH_ENV, "").strip().lower() or "x86_64"
    return ARCH_ALIASES.get(name, name)


class _LabArgs(argparse.ArgumentParser):
    """--arch sets KFREEZE_VM_ARCH for every `lab` call the script makes; an arm64 run's default
    guest name gets an "-arm64" suffix, so it never takes down an x86-64 guest of the same script."""

    def __init__(self, guest_name, **kw):
        super().__init__(**kw)
        self._guest_name = guest_name

    def parse_known_args(self, args=None, namespace=None):
        ns, rest = super().parse_known_args(args, namespace)
        if getattr(ns, "arch", None):
            os.environ[ARCH_ENV] = ns.arch
        ns.arch = guest_arch()
        if getattr(ns, "name", None) is None:
            ns.name = self._guest_name + ("-arm64" if ns.arch == "arm64" else "")
        return ns, rest


def arg_parser(doc, guest_name, *binaries):
    """The script's command line: its docstring as --help, a required --BINARY path for each of
    `binaries` (e.g. "kfreezed", "kfreeze"), --name, the lab guest's name (default `guest_name`;
    distinct names let scripts share one VM cache) and --arch, the guest architecture (default
    KFREEZE_VM_ARCH, else x86_64)."""
    ap = _LabArgs(guest_name, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for b in binaries:
        ap.add_argument(f"--{b}", required=True, help=f"path of the {b} binary")
    ap.add_argument("--name", default=None, help=f"lab guest name (default {guest_name}, "
                                                 f"{guest_name}-arm64 on arm64)")
    ap.add_argument("--arch", choices=["x86_64", "arm64"], default=None,
                    help=f"guest architecture (default {ARCH_ENV}, else x86_64)")
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


# What `lab truth` says when an arm64 guest's command channel lost part of a reply (see guest_truth).
CHANNEL_LOSS = ("guest output ended early", "reply without end marker")


def guest_truth(g, attempts=2):
    """`lab truth` of lab guest g, collected again (up to `attempts` in all) when the reply came
    back cut. An arm64 guest's command channel is a virtconsole, and QEMU drops what a console port
    cannot write at once to its socket (hw/char/virtio-console.c throttles only virtserialport),
    so under load a long reply loses lines and truth fails with "guest output ended early". Only
    the guest's own view is read again (kfreeze is not involved); any other failure, e.g. a guest
    that does not answer, fails at once."""
    for attempt in range(1, attempts + 1):
        try:
            return g.truth()
        except labclient.LabFailure as e:
            if attempt == attempts or not any(m in str(e) for m in CHANNEL_LOSS):
                raise
            print(f"lab truth came back cut (attempt {attempt} of {attempts}), collecting it again: "
                  f"{str(e).strip()[-300:]}", file=sys.stderr, flush=True)


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
