#!/usr/bin/python3
"""The late trigger's gdbstub watchpoint end to end (ctest label `vm`).

Boots the gated `scx-stall` scenario and runs kfreezed with the late trigger on (early off):

  --source watchpoint (late_source "auto"): kfreezed starts a gdbstub over QMP, watches the
    scheduler's exit_kind word and freezes at the kernel's very write. The dual report must say
    trigger_source "watchpoint" with the writer's vCPU, an error exit kind, exit info completed
    after the resume (msg non-empty, kind == exit_kind) and late_exit_info naming the watchpoint;
    the guest must still run afterwards.
  --source poll (late_source "poll"): the same stall gives trigger_source "poll". With --measure,
    an observe-only watchpoint of this script (its own gdbstub; kfreezed does not touch one in
    poll mode) reads jiffies_64 at the exit_kind write, so the guest time that passed between the
    write and the polled capture (the report's scx_sched_state.jiffies) is printed.

Usage: watchpoint_trigger_e2e.py --kfreezed BIN --watch BIN [--source watchpoint|poll|both]
       [--measure]
"""

import json
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from e2e_common import arg_parser, check, died_of_flake, FLAKE_MARK, labclient, outcome, u
from server_support import trigger_daemon, watch_first_dump

SCENARIO = Path(__file__).resolve().parent / "scx_stall_gated.sh"
SCX_EXIT_ERROR = 1024


def main():
    ap = arg_parser(__doc__, "e2e-watchpoint", "kfreezed", "watch")
    ap.add_argument("--source", choices=["watchpoint", "poll", "both"], default="both")
    ap.add_argument("--measure", action="store_true",
                    help="poll run: observe the exit_kind write with this script's own watchpoint")
    ap.add_argument("--exit-kind-offset", type=int, default=None,
                    help="offsetof(struct scx_sched, exit_kind) for --measure without a "
                         "watchpoint run (the watchpoint run logs it)")
    args = ap.parse_args()
    sources = ["watchpoint", "poll"] if args.source == "both" else [args.source]
    results = {}
    for source in sources:
        if source == "poll":
            Observer.EXIT_KIND_OFFSET = results.get("watchpoint", {}).get(
                "exit_kind_offset", args.exit_kind_offset)
        # The TCG "Oops: int3" flake of sched_ext's static-key patching (see scx_stall_e2e.py).
        for attempt in (1, 2):
            guest = {}
            rc = outcome(lambda: run(args, source, guest, results))
            flake = died_of_flake(guest.get("console"))
            if rc == 0 or not flake or attempt == 2:
                break
            print(f"retrying: the guest hit the TCG '{FLAKE_MARK}' oops ({flake})", file=sys.stderr)
        if rc != 0:
            return rc
    print(json.dumps(results, indent=1))
    return 0


def run(args, source, guest, results):
    with labclient.guest(args.name, str(SCENARIO)) as g, tempfile.TemporaryDirectory() as tmp:
        guest["console"] = g.console
        triggers = {"late_enabled": True, "late_poll_ms": 20,
                    "late_source": "auto" if source == "watchpoint" else "poll"}
        with trigger_daemon(args.kfreezed, tmp, g, "stall", triggers,
                            watchpoint=source == "watchpoint") as d:
            out = Path(tmp) / "event.json"
            watch = watch_first_dump(args.watch, d, out)
            observer = None
            try:
                drive(args, source, g, d, watch, out, results, tmp)
            except labclient.LabFailure as e:
                # A guest that stops answering: say whether kfreeze left it paused.
                raise labclient.LabFailure(f"{e}; QMP status {vm_status(g)}; kfreezed log tail:\n"
                                           f"{d.log_text()[-3000:]}") from e
            finally:
                if watch.poll() is None:
                    watch.kill()
                    watch.wait()


def drive(args, source, g, d, watch, out, results, tmp):
    """From the gate to the verdict of one run (the guest booted, kfreezed attached)."""
    observer = None
    if source == "poll" and args.measure:
        observer = Observer(g, Path(tmp))
        observer.prepare()  # kallsyms and the stub before the gate: the stall comes ~6 s after it
    time.sleep(1)
    check(g.exec("touch /tmp/kfreeze-go").rc == 0, "cannot release the gated scenario")
    if observer:
        observer.start()
    rc = watch.wait(timeout=200)
    check(rc == 0, f"no dual report: {watch.stderr.read().decode(errors='replace')}\n"
                   f"kfreezed log tail:\n{d.log_text()[-4000:]}")
    env = json.loads(out.read_text())["envelope"]
    r = check_report(env, source, d.log_text())
    # The guest runs on: kfreeze resumed what its watchpoint stopped.
    alive = g.exec("true")
    check(alive.rc == 0, f"the guest does not run after the capture: {alive}; QMP "
                         f"status {vm_status(g)}\nkfreezed log:\n{d.log_text()[-4000:]}")
    if observer:
        observer.join(timeout=60)
        r.update(observer.result)
        if "hit_jiffies" in observer.result and r.get("late_jiffies"):
            r["guest_ms_write_to_capture"] = (
                (r["late_jiffies"] - observer.result["hit_jiffies"]) * 1000 / max(r["hz"], 1))
    results[source] = r


def check_report(env, source, log):
    check("dual" in env, f"event is not a dual report: {list(env)}")
    dual = env["dual"]
    late = dual.get("late", {})
    state = late.get("scx_sched_state", {})
    kind = state.get("exit_kind", 0)
    note = dual.get("late_exit_info", "")
    check(dual.get("trigger_source") == source,
          f"trigger_source {dual.get('trigger_source')!r} != {source!r} (late_exit_info {note!r})")
    check(kind >= SCX_EXIT_ERROR, f"late exit_kind {kind} is not an error kind ({note})")
    ei = state.get("exit_info", {})
    check(ei.get("kind") == kind, f"exit_info.kind {ei.get('kind')} != exit_kind {kind} ({note})")
    check(ei.get("msg"), f"exit info has no msg: {ei} ({note})")
    check(note.startswith("complete"), f"late exit info not complete: {note!r}")
    r = {"trigger_source": source, "exit_kind": kind, "late_exit_info": note,
         "enable_state": state.get("enable_state"), "exit_kind_raw": state.get("exit_kind_raw"),
         "late_jiffies": u(state.get("jiffies")), "hz": state.get("hz", 0), "msg": ei.get("msg")}
    if source == "watchpoint":
        check("watchpoint" in note, f"late_exit_info does not say watchpoint: {note!r}")
        check("trigger_vcpu" in dual, f"no trigger_vcpu: {sorted(dual)}")
        vcpu = dual["trigger_vcpu"]
        regs = late.get("vcpu_regs", [])
        ip = regs[vcpu].get("regs", {}).get("ip_symbol") if vcpu < len(regs) else None
        r.update(trigger_vcpu=vcpu, writer_ip=ip)
        check_writer_stack(late, vcpu)
        m = re.search(r"watchpoint on exit_kind at 0x([0-9a-f]+)", log)
        if m and state.get("sched_kva"):
            r["exit_kind_offset"] = int(m.group(1), 16) - u(state["sched_kva"])
    else:
        check("trigger_vcpu" not in dual, f"poll report names a vCPU: {dual.get('trigger_vcpu')}")
    print(f"ok: {source}: exit_kind {kind}, msg {ei.get('msg')!r}, late_exit_info {note!r}, "
          f"vCPU {dual.get('trigger_vcpu')}, enable_state {state.get('enable_state')}")
    return r


# Where the kernel detects a stall and raises the error (the watchdog work or the tick), one of
# which the writer's stack must pass through.
STALL_DETECTORS = ("scx_watchdog_workfn", "check_rq_for_timeouts", "scx_tick")


def check_writer_stack(late, vcpu):
    """The task running on the writer's vCPU has a kernel stack that starts at that vCPU's pc and
    passes through the stall detector that wrote exit_kind."""
    origin = f"vcpu {vcpu}"
    writers = [t for t in late.get("task_enrichments", []) if t.get("kernel_stack_origin") == origin]
    check(len(writers) == 1, f"{len(writers)} tasks unwound from {origin}")
    w = writers[0]
    frames = w.get("kernel_stack", [])
    print(f"writer {w.get('comm')}[{w.get('pid')}] on {origin}:")
    for f in frames:
        print(f"    {f.get('symbol')}  ({f.get('via')})")
    regs = late.get("vcpu_regs", [])[vcpu].get("regs", {})
    check(frames and u(frames[0].get("pc")) == u(regs.get("instruction_pointer")),
          f"the writer's stack does not start at vCPU {vcpu}'s pc {regs.get('instruction_pointer')}")
    names = [f.get("symbol", "").split("+")[0] for f in frames]
    check(any(n in STALL_DETECTORS for n in names),
          f"the writer's stack passes through none of {STALL_DETECTORS}: {names}")


class Observer(threading.Thread):
    """Observe-only watchpoint for the poll run: its own gdbstub (started over QMP), Z2 on
    (*scx_root)->exit_kind once the scheduler is attached, and at the hit jiffies_64 read through
    the stub; then `c`. It resumes only what it stopped (the connect, its 0x03, its hit)."""

    EXIT_KIND_OFFSET = None  # from the watchpoint run's log when both run; else found below

    def __init__(self, g, tmp):
        super().__init__(daemon=True)
        self.g, self.tmp, self.result = g, tmp, {}

    def run(self):
        try:
            self.observe()
        except Exception as e:  # measuring is best effort: the verdict is the report's
            self.result["observer_error"] = repr(e)

    def sym(self, name):
        r = self.g.exec(f"grep ' {name}$' /proc/kallsyms")
        return int(r.stdout.split()[0], 16)

    def prepare(self):
        self.scx_root, self.jiffies = self.sym("scx_root"), self.sym("jiffies_64")
        path = self.tmp / "obs-gdb.sock"
        qmp = Qmp(str(self.g.qmp))
        qmp.hmp(f"gdbserver unix:{path},server=on,wait=off")
        qmp.close()
        self.s = Rsp(str(path))
        self.s.sync()  # the connect stopped the VM
        self.s.send("c")

    def observe(self):
        scx_root, jiffies, s = self.scx_root, self.jiffies, self.s
        offset = Observer.EXIT_KIND_OFFSET
        check(offset is not None, "exit_kind offset unknown (run the watchpoint source first)")
        self.result["observer_stage"] = "waiting for the scheduler"
        while self.g.exec("cat /sys/kernel/sched_ext/state").stdout.strip() != "enabled":
            time.sleep(0.1)
        s.sync()  # stops the VM (0x03)
        sched = int.from_bytes(bytes.fromhex(s.cmd(f"m{scx_root:x},8")), "little")
        s.cmd(f"Z2,{sched + offset:x},4")
        s.send("c")
        self.result["observer_stage"] = f"armed at {sched + offset:#x}"
        stop = s.read(timeout=120)
        check("watch:" in stop, f"observer stop without a watch: {stop}")
        self.result["hit_jiffies"] = int.from_bytes(bytes.fromhex(s.cmd(f"m{jiffies:x},8")), "little")
        self.result["observer_stage"] = "hit"
        s.cmd(f"z2,{sched + offset:x},4")
        s.send("c")
        time.sleep(0.5)
        s.close()


class Qmp:
    def __init__(self, path):
        for _ in range(100):  # kfreezed's captures hold QEMU's one QMP connection briefly
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.settimeout(5)
                self.s.connect(path)
                self.f = self.s.makefile("rw")
                self.f.readline()
                self.call("qmp_capabilities")
                return
            except (OSError, socket.timeout):
                time.sleep(0.05)
        raise RuntimeError("QMP unavailable")

    def call(self, cmd, args=None):
        self.f.write(json.dumps({"execute": cmd, **({"arguments": args} if args else {})}) + "\n")
        self.f.flush()
        while True:
            m = json.loads(self.f.readline())
            if "event" not in m:
                return m

    def hmp(self, line):
        return self.call("human-monitor-command", {"command-line": line})

    def close(self):
        self.s.close()


class Rsp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    def send(self, payload):
        self.s.sendall(b"$%s#%02x" % (payload.encode(), sum(payload.encode()) & 0xff))

    def read(self, timeout=5):
        self.s.settimeout(timeout)
        while True:
            m = re.search(rb"\$([^#]*)#..", self.buf)
            if m:
                self.buf = self.buf[m.end():]
                self.s.sendall(b"+")
                return m.group(1).decode()
            self.buf += self.s.recv(4096)

    def cmd(self, payload):
        self.send(payload)
        while True:
            r = self.read()
            if not r.startswith("T"):
                return r

    def sync(self):
        self.s.sendall(b"\x03")
        self.cmd("qAttached")

    def close(self):
        self.s.close()


def vm_status(g):
    try:
        q = Qmp(str(g.qmp))
        st = q.call("query-status")
        q.close()
        return st.get("return", st)
    except Exception as e:  # diagnostics only
        return repr(e)



if __name__ == "__main__":
    sys.exit(main())
