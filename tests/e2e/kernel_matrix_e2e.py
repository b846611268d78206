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

import json
import sys

import scx_report_checks as scx
from e2e_common import Failure, arg_parser, check, guest_procs, labclient, outcome, run_tool, u


def run_json(cmd, what):
    return json.loads(run_tool(cmd, what).stdout)


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
    scx.check_rq_per_cpu(r, cpus)
    s = scx.check_scheduler_running(r, truth)
    features = r.get("scx_features", {})
    absent = set(features.get("absent_fields", []))
    if "scx_sched_state.watchdog_timeout" not in absent:
        check(u(s.get("watchdog_timeout")) > 0, f"watchdog_timeout {s.get('watchdog_timeout')}")
    if features.get("event_counters_layout", "none") != "none":
        check("event_counters" in s, "kernel has event counters but the report has none")
    by_kva = scx.check_tasks(r, before, after, min_lab_tasks=3)
    dsqs = scx.check_dsqs(r, by_kva, cpus, user_dsq)
    return len(by_kva), len(dsqs), features.get("layout", "?")


def main():
    ap = arg_parser(__doc__, "e2e-matrix", "kfreeze")
    ap.add_argument("--cpus", type=int, default=2)
    args = ap.parse_args()
    name = f"{args.name}-{args.cpus}"

    def body():
        with labclient.guest(name, "scx-running", cpus=args.cpus) as g:
            truth = g.truth()
            procs = guest_procs(g)
            user_dsq = scx.scheduler_made_user_dsq(g)
            check(truth["nr_cpus"] == args.cpus, f"guest has {truth['nr_cpus']} CPUs, asked {args.cpus}")
            ram, qmp = ["--ram", str(g.ram)], ["--qmp", str(g.qmp)]
            inspect = run_json([args.kfreeze, "inspect", *ram, *qmp, "--json"], "kfreeze inspect")
            check_inspect(inspect, truth, guest_has_symbol(g, "scx_root"))
            ktstr = run_json([args.kfreeze, "dump", *ram, *qmp, "--format", "ktstr-json"],
                             "kfreeze dump --format ktstr-json")
            after = guest_procs(g)
            try:
                ntasks, ndsqs, layout = check_report(ktstr, truth, procs, after, args.cpus, user_dsq)
            except Failure as e:
                # Say what the guest itself saw right after, so a kfreeze bug and a scheduler
                # that left on its own can be told apart.
                now = g.exec("cat /sys/kernel/sched_ext/state; dmesg | grep -i sched_ext | tail -3")
                raise Failure(f"{e}\nguest after the dump: {now.stdout.strip()}") from None
            env = run_json([args.kfreeze, "dump", *ram, *qmp, "--format", "proto-json"],
                           "kfreeze dump --format proto-json")
            check("single" in env, f"not a single report: {list(env)}")
            check_report(env["single"], truth, procs, guest_procs(g), args.cpus, user_dsq)
            timings = {t["phase"]: u(t.get("duration_us")) for t in env.get("timings", [])}
            check("freeze_window" in timings, f"no freeze_window timing: {sorted(timings)}")
            print(f"MATRIX kernel={truth['release']} cpus={args.cpus} "
                  f"boot_s={g.info.get('BOOT_SECONDS', '?')} "
                  f"attach_ms={inspect['attach_us']['total'] / 1000:.1f} "
                  f"window_ms={timings['freeze_window'] / 1000:.2f} tasks={ntasks} dsqs={ndsqs} "
                  f"layout={layout}")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
