#!/usr/bin/python3
"""Kernel walkers against a real sched_ext guest (ctest label `vm`).

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

import json
import sys
import tempfile
from pathlib import Path

import scx_report_checks as scx
from e2e_common import (TASK_STATS, arg_parser, check, guest_truth, labclient, outcome, parse_task_stats,
                        run_tool, u)

NSEC_PER_TICK = 10_000_000  # USER_HZ = 100: /proc/stat counts 10 ms ticks
CPUSTAT_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
NUMA_FIELDS = {"numa_hit": "numa_hit", "numa_miss": "numa_miss", "numa_foreign": "numa_foreign",
               "numa_interleave": "numa_interleave_hit", "numa_local": "numa_local",
               "numa_other": "numa_other"}
READINGS = ("cat /proc/stat; echo @@VMSTAT; cat /proc/vmstat; echo @@PSI; cat /proc/pressure/cpu; "
            "echo @@TASKS; " + TASK_STATS)


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
    return {"cpus": cpus, "numa": numa, "cpu_some_us": cpu_some_us, "procs": parse_task_stats(tasks)}


def read_guest(g):
    res = g.exec(READINGS)
    check(res.rc == 0, f"guest readings failed: {res}")
    return parse_readings(res.stdout)


def verify(report, before, after, truth, user_dsq=True):
    nr_cpus = truth["nr_cpus"]
    rqs = scx.check_rq_per_cpu(report, nr_cpus)
    unavailable = report.get("task_enrichments_unavailable")
    check(not unavailable, f"task_enrichments_unavailable: {unavailable}")
    by_kva = scx.check_tasks(report, before["procs"], after["procs"], min_lab_tasks=5)
    tasks = report["task_enrichments"]
    for r in rqs:
        for k in r.get("runnable_task_kvas", []) + ([r["curr_task_kva"]] if "curr_task_kva" in r else []):
            check(u(k) in by_kva, f"cpu {r.get('cpu', 0)}: task KVA {hex(u(k))} has no task record")
    dsqs = scx.check_dsqs(report, by_kva, nr_cpus, user_dsq)
    for d in dsqs:
        check(not d.get("truncated"), f"DSQ {d['origin']} truncated")
        for k in d.get("task_kvas", []):
            t = by_kva[u(k)]
            check(u(t.get("dsq_id")) == u(d["id"]),
                  f"task {t.get('comm')} on DSQ {d['origin']} has dsq_id {t.get('dsq_id')}")

    s = scx.check_scheduler_running(report, truth)
    check("exit_info" not in s, f"running scheduler shows exit info: {s}")
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
    args = arg_parser(__doc__, "e2e-scx-running", "dump").parse_args()

    def body():
        with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "envelope.json"
            before = read_guest(g)
            res = run_tool([args.dump, "--ram", g.ram, "--qmp", g.qmp, "--out", out], "scx_walkers_dump")
            after = read_guest(g)
            truth = guest_truth(g)
            envelope = json.loads(out.read_text())
            check("single" in envelope, f"not a single report: {list(envelope)}")
            ntasks, ndsqs = verify(envelope["single"], before, after, truth, scx.scheduler_made_user_dsq(g))
            print(f"ok: {ntasks} tasks, {ndsqs} DSQs; timings: {res.stderr.decode(errors='replace').strip()}")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
