#!/usr/bin/python3
"""One kernel of the matrix: `kfreeze inspect --json` and `kfreeze dump` on a scx-running guest.

Boots the kernel the lab selects (KFREEZE_VM_KERNEL) with --cpus N and checks, against the guest's
own view (`lab truth`, /proc, sysfs, /proc/kallsyms):
  - inspect: release == uname -r, CPU count, symbols (_text, init_task, runqueues, the page-table
    root swapper_pg_dir / init_top_pgt, the function schedule, ...) == /proc/kallsyms, the KASLR
    slide == _text - its link address, on arm64 the paging (5 levels / 52-bit VA exactly when
    dmesg says "52-bit Virtual Addressing"), and the detected sched_ext layout agrees with the
    guest's kallsyms (scx_root present <=> layout "scx_root");
  - `kfreeze dump --format ktstr-json`: one rq_scx_states entry per CPU, a live scx_sched_state
    naming /sys/kernel/sched_ext/root/ops and "enabled", a local DSQ per CPU plus the global and
    the scenario's user DSQ, task records whose pid/comm exist in the guest, DSQ depths equal to
    their listed tasks, every absent field named in scx_features, and the BPF maps equal to
    `bpftool -j map show` (id, name, type, sizes; entry counts, contents of frozen maps);
  - `kfreeze dump --format proto-json`: the same through the envelope, whose timings give the
    freeze window.
Prints `MATRIX key=value ...` (kernel, arch, cpus, boot_s, attach_ms, window_ms, tasks, dsqs,
maps, layout, paging) for make test-matrix, then PASS. With --arch arm64 (or KFREEZE_VM_ARCH) the
guest is arm64 (`make test`'s arm64 smoke); --cpu-opts passes QEMU -cpu properties (lpa2=off: the
48-bit, 4-level walk).

Usage: kernel_matrix_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze --cpus 2
                            [--arch arm64] [--cpu-opts lpa2=off]
"""

import json
import sys

import maps_e2e
import scx_report_checks as scx
from e2e_common import Failure, arg_parser, check, guest_procs, guest_truth, labclient, outcome, run_tool, u

# Looked up by `kfreeze inspect --symbol` and compared with the guest's /proc/kallsyms: data, per-CPU
# data, a function, and the page-table root (an array on arm64; on x86-64 swapper_pg_dir is a
# macro for init_top_pgt).
SYMBOLS = ["_text", "init_task", "runqueues", "__per_cpu_offset", "map_idr", "schedule"]
PGD = {"aarch64": "swapper_pg_dir", "x86_64": "init_top_pgt"}
# _text without KASLR: x86-64 __START_KERNEL_map + 16 MiB; arm64 KIMAGE_VADDR (MODULES_END, with
# the configured VA_BITS 52 or 48 alike).
TEXT_LINK_ADDRESS = {"aarch64": 0xFFFF800080000000, "x86_64": 0xFFFFFFFF81000000}
LPA2_MARK = "52-bit Virtual Addressing"  # arm64 dmesg "CPU features: detected: ... (LPA2)"


def run_json(cmd, what):
    return json.loads(run_tool(cmd, what).stdout)


def guest_kernel_view(g):
    """The guest's `uname -m`, its /proc/kallsyms entries of the symbols kfreeze is asked for
    ({name: {addresses}}), and whether its dmesg says it runs 52-bit VA."""
    names = "|".join(SYMBOLS + sorted(PGD.values()) + ["scx_root"])
    res = g.exec(f"uname -m; grep -E ' ({names})$' /proc/kallsyms; echo @@; dmesg | grep -c '{LPA2_MARK}'")
    check(res.rc in (0, 1), f"reading the guest's kallsyms failed: {res}")
    head, _, lpa2 = res.stdout.partition("@@")
    lines = head.split("\n")
    syms = {}
    for line in lines[1:]:
        f = line.split()
        if len(f) == 3:
            syms.setdefault(f[2], set()).add(int(f[0], 16))
    return lines[0].strip(), syms, lpa2.strip() not in ("", "0")


def check_inspect(inspect, truth, machine, syms, va52):
    check(inspect["release"] == truth["release"], f"release {inspect['release']} != {truth['release']}")
    check(inspect["nr_cpus"] == truth["nr_cpus"], f"nr_cpus {inspect['nr_cpus']} != {truth['nr_cpus']}")
    check(len(inspect["per_cpu_offsets"]) == truth["nr_cpus"], f"per_cpu_offsets {inspect['per_cpu_offsets']}")
    check(machine in PGD, f"guest uname -m {machine!r}")
    for name in SYMBOLS + [PGD[machine]]:
        want = syms.get(name)
        check(want, f"guest /proc/kallsyms has no {name}")
        got = inspect["symbols"].get(name)
        check(got is not None and int(got, 16) in want,
              f"{name}: kfreeze {got} != /proc/kallsyms {sorted(hex(a) for a in want)}")
    (text,) = syms["_text"]
    slide = text - TEXT_LINK_ADDRESS[machine]
    check(int(inspect["kaslr_offset"], 16) == slide, f"kaslr_offset {inspect['kaslr_offset']} != _text - link "
                                                      f"address {hex(slide)}")
    if machine == "aarch64":
        check(inspect.get("arch") == "aarch64", f"inspect arch {inspect.get('arch')!r} on an arm64 guest")
        levels, bits = (5, 52) if va52 else (4, 48)
        walk = (inspect.get("arm64") or {}).get("walk_va_bits")
        check((inspect["pgtable_levels"], walk) == (levels, bits),
              f"paging {inspect.get('paging')!r} (levels {inspect['pgtable_levels']}, walk_va_bits {walk}); "
              f"guest dmesg {'says' if va52 else 'does not say'} {LPA2_MARK!r}")
    f = inspect.get("features") or {}
    want = "scx_root" if "scx_root" in syms else "scx_ops_globals"
    check(f.get("layout") == want, f"features.layout {f.get('layout')!r}, guest kallsyms say {want}")
    check(not f.get("missing_offset_groups"), f"missing offset groups {f.get('missing_offset_groups')}")


def check_maps(report, truth):
    """The report's maps against `bpftool -j map show` / `map dump` (maps_e2e's comparison; the
    scheduler ran between bpftool's reading and the dump: only frozen maps' contents)."""
    c = maps_e2e.compare(report, truth, live=True)
    check(not c.failures, f"maps != bpftool ({len(c.failures)} of {c.checks} checks): " + "; ".join(c.failures[:8]))
    check(len(report["maps"]) == len(truth["maps"]) > 0, f"{len(report['maps'])} maps, bpftool {len(truth['maps'])}")
    return len(report["maps"])


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
    ap.add_argument("--cpu-opts", default=None, help="QEMU -cpu properties for `lab up`, e.g. lpa2=off (arm64)")
    args = ap.parse_args()
    name = f"{args.name}-{args.cpus}"

    def body():
        with labclient.guest(name, "scx-running", cpus=args.cpus, cpu_opts=args.cpu_opts) as g:
            truth = guest_truth(g)
            procs = guest_procs(g)
            user_dsq = scx.scheduler_made_user_dsq(g)
            check(truth["nr_cpus"] == args.cpus, f"guest has {truth['nr_cpus']} CPUs, asked {args.cpus}")
            machine, syms, va52 = guest_kernel_view(g)
            ram, qmp = ["--ram", str(g.ram)], ["--qmp", str(g.qmp)]
            wanted = ",".join(SYMBOLS + [PGD.get(machine, "init_top_pgt")])
            inspect = run_json([args.kfreeze, "inspect", *ram, *qmp, "--json", "--symbol", wanted],
                               "kfreeze inspect")
            check_inspect(inspect, truth, machine, syms, va52)
            ktstr = run_json([args.kfreeze, "dump", *ram, *qmp, "--format", "ktstr-json"],
                             "kfreeze dump --format ktstr-json")
            after = guest_procs(g)
            try:
                ntasks, ndsqs, layout = check_report(ktstr, truth, procs, after, args.cpus, user_dsq)
                nmaps = check_maps(ktstr, truth)
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
            paging = f"{inspect['pgtable_levels']}-level"
            if machine == "aarch64":
                paging += f"/{inspect['arm64']['walk_va_bits']}-bit"
            print(f"MATRIX kernel={truth['release']} arch={args.arch} cpus={args.cpus} "
                  f"boot_s={g.info.get('BOOT_SECONDS', '?')} "
                  f"attach_ms={inspect['attach_us']['total'] / 1000:.1f} "
                  f"window_ms={timings['freeze_window'] / 1000:.2f} tasks={ntasks} dsqs={ndsqs} "
                  f"maps={nmaps} layout={layout} paging={paging}")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
