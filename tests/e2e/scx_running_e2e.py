#!/usr/bin/python3
"""Kernel walkers against a real sched_ext guest (ctest label `vm`, issue 7).

Boots the `scx-running` scenario, reads the guest's own counters, freezes it through QMP and runs
the kernel walker phases (scx_walkers_dump), reads the counters again, and checks:
  - rq_scx_states has exactly one entry per guest CPU;
  - every task in the report exists in the guest's process list with the same pid and comm;
  - every DSQ's depth equals its listed tasks, and each listed task's record names that DSQ;
  - every rq/DSQ task KVA joins to a task record (records are keyed by KVA);
  - scx_sched_state names the loaded scheduler (/sys/kernel/sched_ext/root/ops), enabled, no exit;
  - per-CPU time and NUMA counters lie between the guest's readings before and after the freeze;
  - PSI cpu "some" total lies between the guest's /proc/pressure/cpu readings.

Usage: scx_running_e2e.py --dump BUILD/tests/walkers/e2e_tool/scx_walkers_dump
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm"))
import labclient  # noqa: E402
from e2e_common import check, check_task_identity, outcome, u  # noqa: E402

NSEC_PER_TICK = 10_000_000  # USER_HZ = 100: /proc/stat counts 10 ms ticks
CPUSTAT_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
NUMA_FIELDS = {"numa_hit": "numa_hit", "numa_miss": "numa_miss", "numa_foreign": "numa_foreign",
               "numa_interleave": "numa_interleave_hit", "numa_local": "numa_local",
               "numa_other": "numa_other"}
READINGS = ("cat /proc/stat; echo @@VMSTAT; cat /proc/vmstat; echo @@PSI; cat /proc/pressure/cpu; "
            "echo @@TASKS; for d in /proc/[0-9]*/task/[0-9]*; do cat $d/stat 2>/dev/null; echo; done")


def parse_readings(text):
    stat, _, rest = text.partition("@@VMSTAT")
    vmstat, _, rest = rest.partition("@@PSI")
    psi, _, tasks = rest.partition("@@TASKS")
    cpus = {}
    for line in stat.splitlines():
        f = line.split()
        if f and f[0].startswith("cpu") and f[0] != "cpu":
            cpus[int(f[0][3:])] = dict(zip(CPUSTAT_FIELDS, map(int, f[1:9])))
    numa = {}
    for line in vmstat.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in NUMA_FIELDS:
            numa[NUMA_FIELDS[f[0]]] = int(f[1])
    cpu_some_us = None
    for line in psi.splitlines():
        if line.startswith("some"):
            cpu_some_us = int(line.rsplit("total=", 1)[1])
    procs = {}
    for line in tasks.splitlines():
        o, c = line.find("("), line.rfind(")")
        if o > 0 and c > o:
            procs[int(line[:o])] = line[o + 1:c]
    return {"cpus": cpus, "numa": numa, "cpu_some_us": cpu_some_us, "procs": procs}


def read_guest(g):
    res = g.exec(READINGS)
    check(res.rc == 0, f"guest readings failed: {res}")
    return parse_readings(res.stdout)


def verify(report, before, after, truth, user_dsq=True):
    nr_cpus = truth["nr_cpus"]
    check(not report.get("scx_walker_unavailable"), f"scx_walker_unavailable: {report.get('scx_walker_unavailable')}")
    rqs = report.get("rq_scx_states", [])
    check(sorted(r.get("cpu", 0) for r in rqs) == list(range(nr_cpus)),
          f"rq_scx_states cpus {[r.get('cpu', 0) for r in rqs]} != one per guest CPU ({nr_cpus})")

    tasks = report.get("task_enrichments", [])
    check(len(tasks) > 10, f"only {len(tasks)} task records")
    unavailable = report.get("task_enrichments_unavailable")
    check(not unavailable, f"task_enrichments_unavailable: {unavailable}")
    by_kva = {u(t.get("task_kva")): t for t in tasks}
    check(len(by_kva) == len(tasks), "task records with duplicate KVAs")
    for t in tasks:
        pid, comm = t.get("pid", 0), t.get("comm", "")
        if pid == 0:
            check(comm.startswith("swapper/"), f"pid 0 task named {comm!r}")
            continue
        check_task_identity(pid, comm, before["procs"], after["procs"])
    lab_tasks = [t for t in tasks if t.get("comm", "").startswith("lab_")]
    check(len(lab_tasks) >= 5, f"expected the scenario's lab_spin/lab_sleeper tasks, got {len(lab_tasks)}")

    for r in rqs:
        for k in r.get("runnable_task_kvas", []) + ([r["curr_task_kva"]] if "curr_task_kva" in r else []):
            check(u(k) in by_kva, f"cpu {r.get('cpu', 0)}: task KVA {hex(u(k))} has no task record")
    dsqs = report.get("dsq_states", [])
    origins = {d["origin"] for d in dsqs}
    for want in [f"local cpu {c}" for c in range(nr_cpus)] + ["global node 0"]:
        check(want in origins, f"no DSQ with origin {want!r} (have {sorted(origins)})")
    user = [d for d in dsqs if d["origin"] == "user"]
    # The scenario says when the kernel lets no BPF program create a user DSQ (Debian's 7.1).
    check(any(u(d["id"]) == 0x4b46 for d in user) == user_dsq,
          f"user DSQ 0x4b46 {'missing' if user_dsq else 'reported without the scheduler creating it'}: "
          f"{[hex(u(d['id'])) for d in user]}")
    for d in dsqs:
        kvas = [u(k) for k in d.get("task_kvas", [])]
        check(not d.get("truncated"), f"DSQ {d['origin']} truncated")
        check(len(kvas) == d.get("nr", 0), f"DSQ {d['origin']} nr {d.get('nr', 0)} != {len(kvas)} listed tasks")
        for k in kvas:
            check(k in by_kva, f"DSQ {d['origin']}: task KVA {hex(k)} has no task record")
            check(u(by_kva[k].get("dsq_id")) == u(d["id"]),
                  f"task {by_kva[k].get('comm')} on DSQ {d['origin']} has dsq_id {by_kva[k].get('dsq_id')}")

    s = report.get("scx_sched_state")
    check(s is not None, "no scx_sched_state")
    check(s.get("ops_name") == truth["sched_ext"].get("root_ops"),
          f"ops_name {s.get('ops_name')!r} != /sys/kernel/sched_ext/root/ops {truth['sched_ext'].get('root_ops')!r}")
    check(s.get("enable_state") == truth["sched_ext"].get("state") == "enabled", f"enable_state {s.get('enable_state')}")
    check(s.get("exit_kind", 0) == 0 and "exit_info" not in s, f"running scheduler shows an exit: {s}")
    check(u(s.get("watchdog_timeout")) > 0 and s.get("hz") in (100, 250, 300, 1000), f"timeout/hz {s}")
    # The loaded object, from bpftool: the global-section map its struct_ops programs use.
    maps = {m["id"]: m.get("name", "") for m in truth["maps"]}
    sections = (".bss", ".data", ".rodata")
    struct_ops = [p for p in truth["progs"] if p.get("type") == "struct_ops"]
    objs = {maps[i].rsplit(".", 1)[0] for p in struct_ops for i in p.get("map_ids", [])
            if maps.get(i, "").endswith(sections)}
    check(report.get("active_obj_name") in objs,
          f"active_obj_name {report.get('active_obj_name')!r} not the loaded object {sorted(objs)} "
          f"({report.get('prog_runtime_stats_unavailable')})")
    names = sorted(p.get("name", "") for p in report.get("prog_runtime_stats", []))
    check(names == sorted(p.get("name", "") for p in struct_ops),
          f"prog_runtime_stats {names} != bpftool struct_ops programs")
    kvas = {u(k) for k in report.get("active_map_kvas", [])}
    check(len(kvas) >= 1, "no active_map_kvas")

    pct = {p.get("cpu", 0): p for p in report.get("per_cpu_time", [])}
    check(sorted(pct) == list(range(nr_cpus)), f"per_cpu_time cpus {sorted(pct)}")
    for cpu, p in pct.items():
        for f in CPUSTAT_FIELDS:
            lo, hi = before["cpus"][cpu][f], after["cpus"][cpu][f]
            sleeptime = p.get(f"{f}_sleeptime_ns")
            if f in ("idle", "iowait") and sleeptime is not None:
                # Up to 7.1 /proc/stat takes a NO_HZ CPU's idle/iowait from tick_sched, plus the
                # idle period in progress; tick_sched alone excludes it, so only the upper bound
                # holds for a CPU that was idle across the readings.
                ticks = u(sleeptime) // NSEC_PER_TICK
                check(ticks <= hi, f"cpu{cpu} {f}_sleeptime: {ticks} ticks above the guest's {hi}")
                continue
            ticks = u(p.get(f"cpustat_{f}_ns")) // NSEC_PER_TICK
            check(lo <= ticks <= hi, f"cpu{cpu} {f}: {ticks} ticks not within guest readings [{lo}, {hi}]")

    numa = report.get("per_node_numa", [])
    check(not report.get("per_node_numa_unavailable"), f"per_node_numa_unavailable: {report.get('per_node_numa_unavailable')}")
    check(len(numa) >= 1, "no per-node NUMA stats")
    for f in NUMA_FIELDS.values():
        total = sum(u(n.get(f)) for n in numa)
        lo, hi = before["numa"][f], after["numa"][f]
        check(lo <= total <= hi, f"NUMA {f}: {total} not within /proc/vmstat readings [{lo}, {hi}]")

    system = next((c for c in report.get("cgroup_psi", []) if c.get("is_system")), None)
    check(system is not None, f"no psi_system entry ({report.get('cgroup_psi_unavailable')})")
    some = next(st for st in system["states"] if st["resource"] == "cpu" and st["kind"] == "some")
    total_us = u(some.get("total_ns")) // 1000
    check(before["cpu_some_us"] <= total_us <= after["cpu_some_us"],
          f"PSI cpu some {total_us}us not within [{before['cpu_some_us']}, {after['cpu_some_us']}]")
    return len(tasks), len(dsqs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--name", default="e2e-scx-running")
    args = ap.parse_args()

    def body():
        with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "envelope.json"
            before = read_guest(g)
            res = subprocess.run([args.dump, "--ram", str(g.ram), "--qmp", str(g.qmp), "--out", str(out)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
            check(res.returncode == 0, f"scx_walkers_dump failed: {res.stderr.decode(errors='replace')}")
            after = read_guest(g)
            truth = g.truth()
            envelope = json.loads(out.read_text())
            check("single" in envelope, f"not a single report: {list(envelope)}")
            user_dsq = "KFREEZE-SCX-NO-USER-DSQ" not in g.console.read_text(errors="replace")
            ntasks, ndsqs = verify(envelope["single"], before, after, truth, user_dsq)
            print(f"ok: {ntasks} tasks, {ndsqs} DSQs; timings: {res.stderr.decode().strip()}")

    return outcome(body, labclient.LabFailure)


if __name__ == "__main__":
    sys.exit(main())
