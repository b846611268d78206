#!/usr/bin/python3
"""`kfreeze inspect` against a real lab guest (ctest label `vm`).

Boots the `idle` scenario with KASLR on or off and checks that what kfreeze finds in nothing but
the guest's RAM file equals the guest's own view: /proc/kallsyms for _text, init_task, map_idr,
scx_root (plus runqueues, prog_idr, __per_cpu_offset), `uname -r`, the CPU count, the KASLR slide,
and the vmlinux BTF byte for byte against /sys/kernel/btf/vmlinux. The same attach runs three
ways: default layout (q35; virt once VMCOREINFO says arm64), layout from QMP `info mtree -f`, and
an explicit --ram-layout (q35, or virt for an arm64 guest: --arch arm64 / KFREEZE_VM_ARCH).

Usage: inspect_e2e.py --kfreeze BUILD/clients/kfreeze/kfreeze --kaslr on|off [--arch arm64]
"""

import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

from e2e_common import arg_parser, check, guest_truth, labclient, outcome, run_tool

SYMBOLS = ["_text", "init_task", "map_idr", "scx_root", "runqueues", "prog_idr", "__per_cpu_offset"]
# Per guest architecture (the lab's name): inspect's "arch", _text without KASLR (x86-64
# __START_KERNEL_map + 16 MiB; arm64 KIMAGE_VADDR), the RAM layout to name explicitly, and the
# JSON keys only that architecture has.
ARCH = {
    "x86_64": {"arch": "x86_64", "text": 0xffffffff81000000, "layout": "q35",
               "keys": {"phys_base", "page_offset_base"}},
    "arm64": {"arch": "aarch64", "text": 0xffff800080000000, "layout": "virt",
              "keys": {"arm64", "linear_map_base"}},
}


def run_inspect(kfreeze, ram, extra, btf_out, arch):
    cmd = [kfreeze, "inspect", "--ram", ram, "--json", "--dump-btf", btf_out]
    for s in SYMBOLS:
        cmd += ["--symbol", s]
    cmd += extra
    start = time.monotonic()
    res = run_tool(cmd, timeout=120)
    wall_ms = (time.monotonic() - start) * 1000
    out = json.loads(res.stdout)
    expected_keys = {"release", "kaslr_offset", "arch", "paging", "pgtable_levels", "nr_cpus",
                     "per_cpu_offsets", "symbol_count", "btf_type_count", "symbols", "attach_us",
                     "features"} | ARCH[arch]["keys"]
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


def verify(out, truth, kaslr, label, arch):
    check(out["arch"] == ARCH[arch]["arch"], f"[{label}] arch {out['arch']!r} on an {arch} guest")
    check(out["release"] == truth["release"], f"[{label}] release {out['release']!r} != uname -r {truth['release']!r}")
    check(out["nr_cpus"] == truth["nr_cpus"], f"[{label}] nr_cpus {out['nr_cpus']} != guest {truth['nr_cpus']}")
    check(len(out["per_cpu_offsets"]) == truth["nr_cpus"], f"[{label}] per_cpu_offsets {out['per_cpu_offsets']}")
    for name in SYMBOLS:
        want = truth["kallsyms"].get(name)
        check(want is not None, f"[{label}] guest /proc/kallsyms has no {name}")
        got = out["symbols"].get(name)
        check(got is not None and int(got, 16) == int(want, 16),
              f"[{label}] {name}: kfreeze {got} != /proc/kallsyms {want}")
    slide = int(truth["kallsyms"]["_text"], 16) - ARCH[arch]["text"]
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
            truth = guest_truth(g)
            btf_digest, how = guest_btf_digest(g)
            layout = ARCH[args.arch]["layout"]
            runs = [("default layout", []), ("qmp mtree", ["--qmp", str(g.qmp)]),
                    ("explicit layout", ["--ram-layout", layout])]
            for label, extra in runs:
                btf_out = str(Path(tmp) / f"btf-{len(label)}")
                out, wall_ms = run_inspect(args.kfreeze, str(g.ram), extra, btf_out, args.arch)
                verify(out, truth, args.kaslr, label, args.arch)
                ours = hashlib.sha256(Path(btf_out).read_bytes()).hexdigest()
                check(ours == btf_digest, f"[{label}] BTF from guest RAM sha256 {ours} != guest /sys/kernel/btf/vmlinux "
                                          f"{btf_digest} ({how})")
                steps = " ".join(f"{k}={v}us" for k, v in out["attach_us"].items())
                print(f"[{label}] ok: release {out['release']}, kaslr {out['kaslr_offset']}, "
                      f"linear map {out.get('page_offset_base') or out.get('linear_map_base')}, {out['paging']}, "
                      f"{out['nr_cpus']} cpus, {out['symbol_count']} symbols, {out['btf_type_count']} BTF types, "
                      f"BTF identical ({how}); attach {steps}; process wall {wall_ms:.0f} ms")

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
