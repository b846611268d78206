#!/usr/bin/python3
"""One kernel of the matrix: `kfreeze inspect --json` and `kfreeze dump` on a scx-running guest.

Boots the kernel the lab selects (KFREEZE_VM_KERNEL) with --cpus N and checks, against the guest's
own view (`lab truth`, /proc, sysfs, /proc/kallsyms):
  - inspect: release == uname -r, CPU count, and the detected sched_ext layout agrees with the
    guest's kallsyms (scx_root present <=> layout "scx_root");
  - `kfreeze dump --format ktstr-json`: one rq_scx_states entry per CPU, a live scx_sched_state
    naming /sys/kernel/sched_ext/root/ops and "enabled", a local DSQ per CPU plus the global and
    the scenario's user DSQ, task records whose pid/comm exist in the guest, DSQ depths equal to
    their listed tasks, and every absent field named in scx_features;
  - `kfreeze dump --format proto-json`: the same through the envelope, whose timings give the
    freeze window.
Prints `MATRIX key=value ...` (kernel, cpus, boot_s, attach_ms, window_ms, tasks, dsqs, layout)
for make test-matrix, then PASS.

Usage: kernel_matrix_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze --cpus 2
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm"))
import labclient  # noqa: E402
from e2e_common import Failure, check, check_task_identity, outcome, u  # noqa: E402

USER_DSQ_ID = 0x4B46  # the scx-running scheduler's user DSQ
# Printed by the scenario when the kernel lets no BPF program create a user DSQ (Debian's 7.1:
# scx_bpf_create_dsq has no callable form); the scheduler then runs on the global DSQ only.
NO_USER_DSQ = "KFREEZE-SCX-NO-USER-DSQ"


def run(cmd, what):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    check(res.returncode == 0, f"{what} failed ({res.returncode}): {res.stderr.decode(errors='replace')}")
    return res.stdout.decode()


def guest_procs(g):
    res = g.exec("for d in /proc/[0-9]*/task/[0-9]*; do cat $d/stat 2>/dev/null; echo; done")
    procs = {}
    for line in res.stdout.splitlines():
        o, c = line.find("("), line.rfind(")")
        if o > 0 and c > o:
            procs[int(line[:o])] = line[o + 1:c]
    return procs


def guest_has_symbol(g, name):
    return g.exec(f"grep -qw {name} /proc/kallsyms").rc == 0


def check_inspect(inspect, truth, has_scx_root):
    check(inspect["release"] == truth["release"], f"release {inspect['release']} != {truth['release']}")
    check(inspect["nr_cpus"] == truth["nr_cpus"], f"nr_cpus {inspect['nr_cpus']} != {truth['nr_cpus']}")
    f = inspect.get("features") or {}
    want = "scx_root" if has_scx_root else "scx_ops_globals"
    check(f.get("layout") == want, f"features.layout {f.get('layout')!r}, guest kallsyms say {want}")
    check(not f.get("missing_offset_groups"), f"missing offset groups {f.get('missing_offset_groups')}")


def check_report(r, truth, before, after, cpus, user_dsq):
    check(not r.get("scx_walker_unavailable"), f"scx_walker_unavailable: {r.get('scx_walker_unavailable')}")
    rqs = r.get("rq_scx_states", [])
    check(sorted(x.get("cpu", 0) for x in rqs) == list(range(cpus)),
          f"rq_scx_states cpus {[x.get('cpu', 0) for x in rqs]} != one per CPU ({cpus})")
    s = r.get("scx_sched_state")
    check(s is not None, "no scx_sched_state")
    check(s.get("ops_name") == truth["sched_ext"].get("root_ops"),
          f"ops_name {s.get('ops_name')!r} != sysfs {truth['sched_ext'].get('root_ops')!r}")
    check(s.get("enable_state") == truth["sched_ext"].get("state") == "enabled",
          f"enable_state {s.get('enable_state')!r}, sysfs {truth['sched_ext'].get('state')!r}")
    check(s.get("exit_kind", 0) == 0, f"running scheduler shows exit kind {s.get('exit_kind')}")
    features = r.get("scx_features", {})
    absent = set(features.get("absent_fields", []))
    if "scx_sched_state.watchdog_timeout" not in absent:
        check(u(s.get("watchdog_timeout")) > 0, f"watchdog_timeout {s.get('watchdog_timeout')}")
    if features.get("event_counters_layout", "none") != "none":
        check("event_counters" in s, "kernel has event counters but the report has none")

    tasks = r.get("task_enrichments", [])
    check(len(tasks) > 10, f"only {len(tasks)} task records ({r.get('task_enrichments_unavailable')})")
    by_kva = {u(t.get("task_kva")): t for t in tasks}
    for t in tasks:
        pid, comm = t.get("pid", 0), t.get("comm", "")
        if pid == 0:
            check(comm.startswith("swapper/"), f"pid 0 task named {comm!r}")
            continue
        check_task_identity(pid, comm, before, after)
    check(sum(1 for t in tasks if t.get("comm", "").startswith("lab_")) >= 3, "scenario tasks missing")

    dsqs = r.get("dsq_states", [])
    origins = {d["origin"] for d in dsqs}
    for want in [f"local cpu {c}" for c in range(cpus)] + ["global node 0"]:
        check(want in origins, f"no DSQ {want!r} (have {sorted(origins)})")
    has_user = any(u(d["id"]) == USER_DSQ_ID for d in dsqs if d["origin"] == "user")
    check(has_user == user_dsq, f"user DSQ 0x4b46 {'missing' if user_dsq else 'reported'}, "
                                f"the scheduler {'created' if user_dsq else 'could not create'} it")
    for d in dsqs:
        kvas = [u(k) for k in d.get("task_kvas", [])]
        check(len(kvas) == d.get("nr", 0), f"DSQ {d['origin']}: nr {d.get('nr', 0)} != {len(kvas)} listed")
        for k in kvas:
            check(k in by_kva, f"DSQ {d['origin']}: task KVA {hex(k)} has no task record")
    return len(tasks), len(dsqs), features.get("layout", "?")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kfreeze", required=True)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--name", default="e2e-matrix")
    args = ap.parse_args()
    name = f"{args.name}-{args.cpus}"

    def body():
        with labclient.guest(name, "scx-running", cpus=args.cpus) as g:
            truth = g.truth()
            procs = guest_procs(g)
            user_dsq = NO_USER_DSQ not in g.console.read_text(errors="replace")
            check(truth["nr_cpus"] == args.cpus, f"guest has {truth['nr_cpus']} CPUs, asked {args.cpus}")
            ram, qmp = ["--ram", str(g.ram)], ["--qmp", str(g.qmp)]
            inspect = json.loads(run([args.kfreeze, "inspect", *ram, *qmp, "--json"], "kfreeze inspect"))
            check_inspect(inspect, truth, guest_has_symbol(g, "scx_root"))
            ktstr = json.loads(run([args.kfreeze, "dump", *ram, *qmp, "--format", "ktstr-json"],
                                   "kfreeze dump --format ktstr-json"))
            after = guest_procs(g)
            try:
                ntasks, ndsqs, layout = check_report(ktstr, truth, procs, after, args.cpus, user_dsq)
            except Failure as e:
                # Say what the guest itself saw right after, so a kfreeze bug and a scheduler
                # that left on its own can be told apart.
                now = g.exec("cat /sys/kernel/sched_ext/state; dmesg | grep -i sched_ext | tail -3")
                raise Failure(f"{e}\nguest after the dump: {now.stdout.strip()}") from None
            env = json.loads(run([args.kfreeze, "dump", *ram, *qmp, "--format", "proto-json"],
                                 "kfreeze dump --format proto-json"))
            check("single" in env, f"not a single report: {list(env)}")
            check_report(env["single"], truth, procs, guest_procs(g), args.cpus, user_dsq)
            timings = {t["phase"]: u(t.get("duration_us")) for t in env.get("timings", [])}
            check("freeze_window" in timings, f"no freeze_window timing: {sorted(timings)}")
            print(f"MATRIX kernel={truth['release']} cpus={args.cpus} "
                  f"boot_s={g.info.get('BOOT_SECONDS', '?')} "
                  f"attach_ms={inspect['attach_us']['total'] / 1000:.1f} "
                  f"window_ms={timings['freeze_window'] / 1000:.2f} tasks={ntasks} dsqs={ndsqs} "
                  f"layout={layout}")

    return outcome(body, labclient.LabFailure)


if __name__ == "__main__":
    sys.exit(main())
