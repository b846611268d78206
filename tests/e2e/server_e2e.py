#!/usr/bin/python3
"""kfreezed against real lab guests over a unix socket (ctest label `vm`).

Two guests: `vm` (scenario scx-running, 2 CPUs) and `other` (scenario idle, 1 CPU). Checks:
  - Freeze returns a `single` report taken with the VM paused (vCPU registers of every CPU);
  - a WatchDumps subscriber receives the dump;
  - the guest keeps running after every Freeze (uptime and the dump's jiffies advance);
  - concurrent Freezes on one target produce one capture (one dump id, one leader);
  - a subscriber that never reads does not stop Freezes, and learns what it lost;
  - after a daemon restart (SIGTERM: exit 0) GetDump/ListDumps still find the dumps;
  - the CLI attaches a target, freezes it (text output) and detaches it;
  - killing QEMU of a paused target gives a degraded report or one clear error line, and the
    daemon keeps serving the other target.
The maps-vs-guest comparison is server_maps_e2e.py; the third-party client is server_buf_e2e.py.

Usage: server_e2e.py --kfreezed BUILD/server/kfreezed/kfreezed --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from e2e_common import arg_parser, check, labclient, outcome
from server_support import Daemon, report_of

SLOW_FREEZES = 60


def uptime(g):
    return float(g.exec("cut -d' ' -f1 /proc/uptime", check=True).stdout.split()[0])


def jiffies(envelope):
    _, r = report_of(envelope)
    return int(r.get("scx_sched_state", {}).get("jiffies", 0))


def json_stream(text):
    dec, pos, out = json.JSONDecoder(), 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return out
        obj, pos = dec.raw_decode(text, pos)
        out.append(obj)


def main():
    args = arg_parser(__doc__, "e2e-server", "kfreezed", "kfreeze").parse_args()
    return outcome(lambda: run(args))


def run(args):
    with labclient.guest(args.name, "scx-running") as g, \
            labclient.guest(args.name + "-b", "idle", cpus=1) as other, \
            tempfile.TemporaryDirectory(prefix="kfd-e2e-") as tmp:
        nr_cpus = int(g.info.get("CPUS", 2))
        config = {"watch_queue_depth": 2, "freeze": {"qmp_timeout_ms": 8000},
                  # `kfreeze attach` below needs the admin role and RPC attach of the lab's files.
                  "roles": [{"role": "admin", "uids": [os.getuid()]}],
                  "rpc_attach": {"enabled": True,
                                 "allowed_dirs": sorted({str(Path(g.ram).resolve().parent),
                                                         str(Path(g.qmp).resolve().parent)})}}
        state = {}
        with Daemon(args.kfreezed, args.kfreeze, tmp,
                    [f"name=vm,ram={g.ram},qmp={g.qmp}", f"name=other,ram={other.ram},qmp={other.qmp}"],
                    config=config) as d:
            d.wait_attached("vm")
            d.wait_attached("other")

            def freeze_single():
                r = d.freeze("vm", "--label", "test=server_e2e")
                kind, rep = report_of(r["envelope"])
                check(kind == "single", f"schema {kind}: {rep.get('reason')}")
                check(not r["envelope"].get("live", False), "dump marked live although QMP paused it")
                regs = rep.get("vcpu_regs", [])
                check(len(regs) == nr_cpus, f"{len(regs)} vCPU register sets for {nr_cpus} CPUs")
                check(all(int(s["regs"]["instruction_pointer"]) >= 0xffff800000000000 or
                          int(s["regs"]["instruction_pointer"]) < 0x800000000000 for s in regs),
                      "non-canonical instruction pointer")
                phases = [t["phase"] for t in r["envelope"]["timings"]]
                for p in ("pause", "regs", "resume", "freeze_window", "total"):
                    check(p in phases, f"timing {p} missing from {phases}")
                check(r["envelope"]["labels"].get("test") == "server_e2e", "label lost")
                state["first"] = r

            def watch_receives():
                since = state["first"]["dump_id"]
                w = d.cli_popen("watch", "--target", "vm", "--since", since, "--count", "1", "--summary-only",
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                r = d.freeze("vm")
                out, err = w.communicate(timeout=60)
                check(w.returncode == 0, f"watch rc {w.returncode}: {err.strip()}")
                check(out.split()[0] == r["dump_id"], f"watch saw {out.strip()!r}, freeze made {r['dump_id']}")
                state["second"] = r

            def guest_keeps_running():
                before = uptime(g)
                a = d.freeze("vm")
                time.sleep(0.5)
                b = d.freeze("vm")
                after = uptime(g)
                check(after > before + 0.4, f"guest uptime {before} -> {after}")
                ja, jb = jiffies(a["envelope"]), jiffies(b["envelope"])
                if ja and jb:
                    check(jb > ja, f"jiffies did not advance between dumps: {ja} -> {jb}")
                check(uptime(g) >= after, "guest clock went backwards")
                # The sampler read SCX_EV_* between freezes (a scheduler runs in scx-running).
                _, rep = report_of(b["envelope"])
                timeline = rep.get("event_counter_timeline", [])
                check(len(timeline) >= 1,
                      f"empty event_counter_timeline: {rep.get('event_counter_timeline_unavailable')}")
                ms = [int(s.get("elapsed_ms", 0)) for s in timeline]
                check(ms == sorted(ms), f"timeline not in time order: {ms}")

            def concurrent_freezes_coalesce():
                # Hold the only QMP connection QEMU accepts: the first freeze waits for it, the
                # others arrive meanwhile and must join it.
                holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                holder.connect(str(g.qmp))
                holder.recv(4096)  # greeting
                procs = [d.cli_popen("freeze", "vm", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
                         for _ in range(4)]
                time.sleep(2.0)
                holder.close()
                outs = []
                for p in procs:
                    out, err = p.communicate(timeout=60)
                    check(p.returncode == 0, f"freeze rc {p.returncode}: {err.strip()}")
                    outs.append(json.loads(out))
                ids = {o["dump_id"] for o in outs}
                check(len(ids) == 1, f"{len(ids)} captures for concurrent freezes: {sorted(ids)}")
                leaders = [o for o in outs if not o.get("coalesced", False)]
                check(len(leaders) == 1, f"{len(leaders)} leaders")

            def slow_subscriber():
                w = d.cli_popen("watch", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                time.sleep(0.5)
                t0 = time.time()
                ids = [d.freeze("vm")["dump_id"] for _ in range(SLOW_FREEZES)]
                elapsed = time.time() - t0
                # Now read what the stuck watcher got, and stop it.
                got = []
                reader = threading.Thread(target=lambda: got.append(w.stdout.read()))
                reader.start()
                time.sleep(3)
                w.send_signal(signal.SIGINT)
                reader.join(timeout=30)
                w.wait(timeout=30)
                events = json_stream(got[0] if got else "")
                seen = [e["summary"]["dump_id"] for e in events]
                dropped = sum(int(e.get("dropped_before", 0)) for e in events)
                check(seen and seen[-1] == ids[-1], f"watcher never got the last dump ({ids[-1]}); saw {seen[-3:]}")
                check(dropped > 0 and len(seen) + dropped >= SLOW_FREEZES,
                      f"slow watcher: {len(seen)} events + {dropped} dropped for {SLOW_FREEZES} dumps")
                print(f"  {SLOW_FREEZES} freezes in {elapsed:.1f}s with a stuck watcher; it got "
                      f"{len(seen)}, lost {dropped}", flush=True)

            def restart_keeps_dumps():
                check(d.stop() == 0, "kfreezed did not exit 0 on SIGTERM")
                check(uptime(g) > 0, "guest not running after daemon stop")
                d.start()
                d.wait_attached("vm")
                first = state["first"]["dump_id"]
                got = json.loads(d.cli("get", first, "--json").stdout)
                check(got["dump_id"] == first, f"get returned {got.get('dump_id')}")
                listed = json.loads(d.cli("list", "--target", "vm", "--limit", "1000", "--json").stdout)
                ids = [x["dump_id"] for x in listed.get("dumps", [])]
                check(first in ids and state["second"]["dump_id"] in ids, f"list after restart: {ids[:5]}...")

            def cli_attach_freeze_detach():
                out = d.cli("attach", "vm2", "--ram", str(Path(g.ram).resolve()),
                            "--qmp", str(Path(g.qmp).resolve())).stdout
                check("attached" in out, f"attach said {out!r}")
                rows = d.cli("targets").stdout
                check(any(l.split()[:2] == ["vm2", "attached"] for l in rows.splitlines()), f"targets:\n{rows}")
                text = d.cli("freeze", "vm2", "--label", "via=cli").stdout
                check(text.startswith("dump vm2-") and "label via=cli" in text, f"text dump head: {text[:200]!r}")
                d.cli("detach", "vm2")
                check("vm2" not in d.cli("targets").stdout, "vm2 still listed after detach")
                res = d.cli("freeze", "vm2", check_rc=False)
                check(res.returncode != 0 and res.stderr.count("\n") == 1 and "NOT_FOUND" in res.stderr,
                      f"freeze of a detached target: rc {res.returncode} {res.stderr!r}")

            def qemu_killed_while_paused():
                r = d.freeze("vm", "--keep-paused")
                check(report_of(r["envelope"])[0] == "single", "keep-paused freeze not single")
                os.kill(g.pid, signal.SIGKILL)
                time.sleep(0.5)
                res = d.cli("freeze", "vm", "--json", check_rc=False)
                if res.returncode == 0:
                    kind, rep = report_of(json.loads(res.stdout)["envelope"])
                    check(kind == "degraded", f"freeze of a dead VM gave {kind}")
                    check(rep.get("reason"), "degraded report without a reason")
                    print(f"  degraded: {rep['reason']}", flush=True)
                else:
                    lines = res.stderr.strip().splitlines()
                    check(len(lines) == 1 and lines[0].startswith("kfreeze: "), f"unclear error: {res.stderr!r}")
                    print(f"  error: {lines[0]}", flush=True)
                o = d.freeze("other")
                check(report_of(o["envelope"])[0] == "single", "other target did not freeze after the kill")
                check(d.proc.poll() is None, "kfreezed died")

            return d.run_checks([
                ("freeze returns a paused single report", freeze_single),
                ("WatchDumps subscriber receives the dump", watch_receives),
                ("guest keeps running after every freeze", guest_keeps_running),
                ("concurrent freezes on one target share one capture", concurrent_freezes_coalesce),
                ("a stuck subscriber does not stop freezes", slow_subscriber),
                ("dumps survive a daemon restart", restart_keeps_dumps),
                ("CLI attach, freeze (text), detach", cli_attach_freeze_detach),
                ("QEMU killed while paused: degraded or clear error, others served", qemu_killed_while_paused),
            ], log_chars=4000)


if __name__ == "__main__":
    sys.exit(main())
