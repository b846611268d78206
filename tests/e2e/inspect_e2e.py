#!/usr/bin/python3
"""`kfreeze inspect` against a real lab guest (ctest label `vm`).

Boots the `idle` scenario with KASLR on or off and checks that what kfreeze finds in nothing but
the guest's RAM file equals the guest's own view: /proc/kallsyms for _text, init_task, map_idr,
scx_root (plus runqueues, prog_idr, __per_cpu_offset), `uname -r`, the CPU count, the KASLR slide,
and the vmlinux BTF byte for byte against /sys/kernel/btf/vmlinux. The same attach runs three
ways: default q35 layout, layout from QMP `info mtree -f`, and an explicit --ram-layout.

Usage: inspect_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze --kaslr on|off
"""

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from e2e_common import arg_parser, check, labclient, outcome, run_tool

SYMBOLS = ["_text", "init_task", "map_idr", "scx_root", "runqueues", "prog_idr", "__per_cpu_offset"]
TEXT_LINK_ADDRESS = 0xffffffff81000000  # _text without KASLR (__START_KERNEL_map + 16 MiB)


def run_inspect(kfreeze, ram, extra, btf_out):
    cmd = [kfreeze, "inspect", "--ram", ram, "--json", "--dump-btf", btf_out]
    for s in SYMBOLS:
        cmd += ["--symbol", s]
    cmd += extra
    start = time.monotonic()
    res = run_tool(cmd, timeout=120)
    wall_ms = (time.monotonic() - start) * 1000
    out = json.loads(res.stdout)
    expected_keys = {"release", "kaslr_offset", "phys_base", "page_offset_base", "pgtable_levels", "nr_cpus",
                     "per_cpu_offsets", "symbol_count", "btf_type_count", "symbols", "attach_us",
                     "features"}
    check(set(out) == expected_keys, f"JSON keys {sorted(out)} != {sorted(expected_keys)}")
    return out, wall_ms


def guest_btf_digest(g):
    """sha256 of /sys/kernel/btf/vmlinux inside the guest (busybox sha256sum, else the bytes)."""
    res = g.exec("sha256sum /sys/kernel/btf/vmlinux")
    if res.rc == 0 and res.stdout.split():
        return res.stdout.split()[0], "sha256sum in the guest"
    res = g.exec("cat /sys/kernel/btf/vmlinux", timeout=300)
    check(res.rc == 0, f"cannot read /sys/kernel/btf/vmlinux in the guest: {res}")
    return hashlib.sha256(res.stdout_bytes).hexdigest(), f"{len(res.stdout_bytes)} bytes via cat"


def verify(out, truth, kaslr, label):
    check(out["release"] == truth["release"], f"[{label}] release {out['release']!r} != uname -r {truth['release']!r}")
    check(out["nr_cpus"] == truth["nr_cpus"], f"[{label}] nr_cpus {out['nr_cpus']} != guest {truth['nr_cpus']}")
    check(len(out["per_cpu_offsets"]) == truth["nr_cpus"], f"[{label}] per_cpu_offsets {out['per_cpu_offsets']}")
    for name in SYMBOLS:
        want = truth["kallsyms"].get(name)
        check(want is not None, f"[{label}] guest /proc/kallsyms has no {name}")
        got = out["symbols"].get(name)
        check(got is not None and int(got, 16) == int(want, 16),
              f"[{label}] {name}: kfreeze {got} != /proc/kallsyms {want}")
    slide = int(truth["kallsyms"]["_text"], 16) - TEXT_LINK_ADDRESS
    check(int(out["kaslr_offset"], 16) == slide, f"[{label}] kaslr_offset {out['kaslr_offset']} != {hex(slide)}")
    if kaslr == "off":
        check(slide == 0, f"[{label}] KASLR off but _text is slid by {hex(slide)}")
    check(out["pgtable_levels"] in (4, 5), f"[{label}] pgtable_levels {out['pgtable_levels']}")
    check(out["symbol_count"] > 100000, f"[{label}] only {out['symbol_count']} symbols")
    check(out["btf_type_count"] > 10000, f"[{label}] only {out['btf_type_count']} BTF types")
    # The sched_ext layout found in BTF + kallsyms agrees with the guest's own kallsyms.
    f = out["features"] or {}
    want = "scx_root" if "scx_root" in truth["kallsyms"] else "scx_ops_globals"
    check(f.get("layout") == want, f"[{label}] features.layout {f.get('layout')!r}, guest says {want}")
    check(f.get("missing_offset_groups") == [], f"[{label}] missing {f.get('missing_offset_groups')}")


def main():
    ap = arg_parser(__doc__, "e2e-inspect", "kfreeze")
    ap.add_argument("--kaslr", choices=["on", "off"], required=True)
    args = ap.parse_args()
    name = f"{args.name}-kaslr-{args.kaslr}"

    def body():
        with labclient.guest(name, "idle", kaslr=args.kaslr) as g, tempfile.TemporaryDirectory() as tmp:
            truth = g.truth()
            btf_digest, how = guest_btf_digest(g)
            runs = [("q35 default", []), ("qmp mtree", ["--qmp", str(g.qmp)]), ("explicit layout", ["--ram-layout", "q35"])]
            for label, extra in runs:
                btf_out = str(Path(tmp) / f"btf-{len(label)}")
                out, wall_ms = run_inspect(args.kfreeze, str(g.ram), extra, btf_out)
                verify(out, truth, args.kaslr, label)
                ours = hashlib.sha256(Path(btf_out).read_bytes()).hexdigest()
                check(ours == btf_digest, f"[{label}] BTF from guest RAM sha256 {ours} != guest /sys/kernel/btf/vmlinux "
                                          f"{btf_digest} ({how})")
                steps = " ".join(f"{k}={v}us" for k, v in out["attach_us"].items())
                print(f"[{label}] ok: release {out['release']}, kaslr {out['kaslr_offset']}, "
                      f"page_offset_base {out['page_offset_base']}, {out['pgtable_levels']} levels, "
                      f"{out['nr_cpus']} cpus, {out['symbol_count']} symbols, {out['btf_type_count']} BTF types, "
                      f"BTF identical ({how}); attach {steps}; process wall {wall_ms:.0f} ms")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
