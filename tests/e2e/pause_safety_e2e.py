#!/usr/bin/python3
"""No VM left paused, and never resume a VM kfreeze did not pause, on a real lab guest.

Checks, in order:
  - someone else's pause: QMP `stop` by this test, then Freeze (even with --keep-paused): the dump
    says vm_already_paused, the VM is still paused afterwards, and ResumeTarget refuses it;
  - keep_paused, then SIGKILL kfreezed: the VM runs again within 2 s (the resumer process);
  - SIGKILL kfreezed while a Freeze holds the VM paused mid-walk: runs again within 2 s. The window
    is found through the pause marker kfreezed writes before `stop` and removes after `cont`: the
    test kills at growing delays after the marker appears until the resumer reports that it found
    the VM paused and resumed it;
  - after each kill kfreezed starts again, attaches the target and a Freeze works;
  - kfreezed and its resumer SIGKILLed together (as a cgroup kill would) while kfreezed keeps the
    VM paused: the VM stays paused until kfreezed starts again, which reconciles its pause marker
    and resumes it.

Usage: pause_safety_e2e.py --kfreezed BUILD/server/kfreezed/kfreezed --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2e_common import Failure, arg_parser, check, labclient, outcome, run_checks
from server_support import Daemon, report_of

RESUME_BOUND_S = 2.0  # how long a VM may stay paused after kfreezed dies
# Kill delays after the marker appears. Under KVM a whole freeze window can be ~1 ms, so a kill
# may land after `cont`: retry at once many times before trying longer delays (slow TCG walks).
KILL_DELAYS_S = [0.0] * 25 + [0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15]


class Qmp:
    """One QMP session (QEMU serves one client at a time: keep sessions short)."""

    def __init__(self, path, timeout=2.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.f = self.sock.makefile("rwb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("QMP closed")
        return json.loads(line)

    def cmd(self, name):
        self.f.write(json.dumps({"execute": name}).encode() + b"\n")
        self.f.flush()
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise Failure(f"QMP {name}: {msg['error']}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()
        self.sock.close()


def run_state(qmp, timeout=2.0):
    with Qmp(qmp, timeout) as q:
        return q.cmd("query-status")["status"]


def seconds_until_running(qmp, since, give_up_s=15.0):
    """Polls query-status until "running"; the seconds from `since` (time.monotonic())."""
    while time.monotonic() - since < give_up_s:
        try:
            if run_state(qmp, timeout=0.5) == "running":
                return time.monotonic() - since
        except (OSError, ConnectionError):
            pass  # another client (the resumer) has QEMU's only QMP seat right now
        time.sleep(0.01)
    raise Failure(f"VM still not running {give_up_s} s after kfreezed died")


def main():
    args = arg_parser(__doc__, "e2e-pause", "kfreezed", "kfreeze").parse_args()
    return outcome(lambda: run(args))


def run(args):
    with labclient.guest(args.name, "idle") as g, \
            tempfile.TemporaryDirectory(prefix="kfd-pause-e2e-") as tmp:
        # kfreezed's default marker directory follows systemd's $STATE_DIRECTORY: a private one.
        os.environ["STATE_DIRECTORY"] = str(Path(tmp) / "state")
        markers = Path(tmp) / "state" / "paused-vms"
        config = {"freeze": {"qmp_timeout_ms": 8000}}
        d = Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"],
                   config=config)

        def start():
            d.start()
            d.wait_attached("vm")

        def kill_kfreezed():
            d.proc.kill()
            t0 = time.monotonic()
            d.proc.wait()
            return t0

        def freeze_works():
            r = d.freeze("vm")
            kind, rep = report_of(r["envelope"])
            check(kind == "single", f"schema {kind}: {rep.get('reason')}")
            check(not r["envelope"].get("live", False), "live dump after a restart")
            check(not r["envelope"].get("vm_already_paused", False), "running VM reported paused")
            check(run_state(g.qmp) == "running", "VM not running after a plain Freeze")

        def someone_elses_pause():
            with Qmp(g.qmp) as q:
                q.cmd("stop")
            try:
                r = d.freeze("vm", "--keep-paused")
                env = r["envelope"]
                kind, rep = report_of(env)
                check(env.get("vm_already_paused") is True, "dump does not say vm_already_paused")
                check(kind == "single", f"schema {kind}: {rep.get('reason')}")
                check(not env.get("live", False), "a paused VM was walked as live")
                check(len(rep.get("vcpu_regs", [])) >= 1, "no vCPU registers from a paused VM")
                phases = [t["phase"] for t in env["timings"]]
                check("pause" not in phases and "resume" not in phases,
                      f"kfreeze paused/resumed it: {phases}")
                check(run_state(g.qmp) == "paused", "kfreeze resumed a VM someone else paused")
                res = d.cli("resume", "vm", check_rc=False)
                check(res.returncode != 0, "ResumeTarget accepted someone else's pause")
                check(run_state(g.qmp) == "paused", "ResumeTarget resumed someone else's pause")
                print(f"  dump {r['dump_id']}: vm_already_paused, VM still paused; resume refused: "
                      f"{res.stderr.strip()}", flush=True)
            finally:
                with Qmp(g.qmp) as q:
                    q.cmd("cont")

        def keep_paused_then_sigkill():
            d.freeze("vm", "--keep-paused")
            check(d.target("vm")["state"] == "TARGET_STATE_PAUSED", "target not kept paused")
            check(any(markers.glob("*.paused")), f"no pause marker in {markers}")
            offset = len(d.log_text())
            took = seconds_until_running(g.qmp, kill_kfreezed())
            print(f"  keep_paused + SIGKILL: running again {took:.3f} s after the kill", flush=True)
            line = d.wait_log_line("resumer: VM at", since=offset)
            print(f"  {line}", flush=True)
            check(took <= RESUME_BOUND_S, f"VM ran again only {took:.3f} s after kfreezed died")
            check(line is not None and "resumed" in line, "the resumer did not report the resume")
            check(not any(markers.glob("*.paused")), "the resumer left the pause marker")
            start()
            freeze_works()

        def sigkill_mid_walk():
            for delay in KILL_DELAYS_S:
                offset = len(d.log_text())
                p = d.cli_popen("freeze", "vm", "--json", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                give_up = time.monotonic() + 60
                while not any(markers.glob("*.paused")) and p.poll() is None and time.monotonic() < give_up:
                    time.sleep(0.0001)
                if not any(markers.glob("*.paused")):
                    p.wait()
                    print(f"  delay {delay}: the freeze ended before its marker was seen", flush=True)
                    continue
                time.sleep(delay)
                took = seconds_until_running(g.qmp, kill_kfreezed())
                p.wait()
                line = d.wait_log_line("resumer: VM at", since=offset, timeout=5) or "(no resumer line)"
                hit = "resumed (now running)" in line
                print(f"  kill {delay * 1000:.0f} ms after the marker: running {took:.3f} s after the kill;"
                      f" {line.split('resumer: ')[-1]}", flush=True)
                check(took <= RESUME_BOUND_S, f"VM ran again only {took:.3f} s after kfreezed died")
                start()
                if hit:
                    freeze_works()
                    return
            raise Failure("no kill landed while kfreezed held the VM paused")

        def cgroup_kill_then_reconcile():
            d.freeze("vm", "--keep-paused")
            pid = d.proc.pid
            resumers = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
                        and b"--internal-resumer" in _read(p / "cmdline") and _ppid(p) == pid]
            check(len(resumers) == 1, f"resumer processes of {pid}: {resumers}")
            os.kill(pid, signal.SIGSTOP)  # no respawn of the resumer in between
            os.kill(resumers[0], signal.SIGKILL)
            kill_kfreezed()
            time.sleep(RESUME_BOUND_S + 0.5)
            check(run_state(g.qmp) == "paused", "something resumed the VM with the resumer dead")
            check(any(markers.glob("*.paused")), "no pause marker left for the next kfreezed")
            offset = len(d.log_text())
            start()
            line = d.wait_log_line("reconciled", since=offset)
            print(f"  {line}", flush=True)
            check(line is not None and "resumed" in line, "the restarted kfreezed did not reconcile")
            check(run_state(g.qmp) == "running", "VM still paused after the restart")
            check(not any(markers.glob("*.paused")), "the marker survived the reconcile")
            freeze_works()

        rc = 1
        try:
            start()
            rc = run_checks([
                ("a VM someone else paused stays paused and is reported so", someone_elses_pause),
                ("keep_paused + SIGKILL kfreezed: running within 2 s, restart serves", keep_paused_then_sigkill),
                ("SIGKILL mid-walk: running within 2 s, restart serves", sigkill_mid_walk),
                ("kfreezed + resumer killed: the restarted kfreezed reconciles", cgroup_kill_then_reconcile),
            ])
        finally:
            d.stop()
            try:
                if run_state(g.qmp) != "running":
                    with Qmp(g.qmp) as q:
                        q.cmd("cont")
            except (OSError, ConnectionError, Failure):
                pass
        return rc


def _read(path):
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _ppid(proc_dir):
    stat = _read(proc_dir / "stat").decode(errors="replace")
    try:
        return int(stat[stat.rindex(")") + 2:].split()[1])
    except (ValueError, IndexError):
        return -1


if __name__ == "__main__":
    sys.exit(main())
