#!/usr/bin/python3
"""`make test-matrix`: every e2e check of `make test`, on every sched_ext kernel of the matrix,
for each guest architecture (x86-64, arm64).

For each architecture and kernel (a version prefix the lab resolves: Debian's binaries, or the
lab's own 6.12 build, x86-64 only) it fetches the kernel once, then runs, each on a fresh guest:
  - kernel_matrix_e2e with 2 and with 3 vCPUs (inspect + kfreeze dump vs the guest); on arm64 the
    2-vCPU guest runs -cpu max (52-bit VA, LPA2, 5 levels), the 3-vCPU one lpa2=off (48-bit, 4);
  - scx_running_e2e (tasks, DSQs, scheduler, per-CPU time, NUMA, PSI vs the guest);
  - maps_e2e (every map vs bpftool);
  - scx_stall_e2e (kfreezed's auto-triggers publish the dual report with the stall's exit kind).
It prints a kernel x check table (PASS/FAIL with seconds, plus boot, attach and freeze-window
figures from kernel_matrix_e2e) and, with --readme, writes it between the matrix markers of the
README. Exit status 1 when any cell failed; each failure's last lines are printed below the table.
arm64 has no 6.12 row: Debian's arm64 6.12 has no sched_ext and the lab builds 6.12 for x86-64 only.

Usage: run_matrix.py --build build [--arches x86_64,arm64] [--kernels 6.12,6.16,...]
                     [--checks walkers,maps] [--readme README.md]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "e2e"
LAB = REPO / "tests" / "vm" / "lab"
DEFAULT_KERNELS = "6.12,6.16,6.17,6.18,7.1,7.2,7.3"
DEFAULT_ARCHES = "x86_64,arm64"
# Kernels without an arm64 sched_ext guest: Debian's arm64 6.12 lacks CONFIG_SCHED_CLASS_EXT and
# the lab's 6.12 source build is x86-64 only (`lab fetch --arch arm64 --kernel 6.12` refuses).
NO_ARM64 = ("6.12",)
BEGIN, END = "<!-- test-matrix:begin -->", "<!-- test-matrix:end -->"


def checks(build: Path, arch="x86_64"):
    kf = str(build / "clients" / "kfreeze" / "kfreeze")
    kfd = str(build / "server" / "kfreezed" / "kfreezed")
    # arm64: the 3-vCPU guest also covers the 48-bit, 4-level walk (-cpu max,lpa2=off).
    three = ["--cpu-opts", "lpa2=off"] if arch == "arm64" else []
    return [
        ("dump 2 vCPU", [str(E2E / "kernel_matrix_e2e.py"), "--kfreeze", kf, "--cpus", "2"]),
        ("dump 3 vCPU", [str(E2E / "kernel_matrix_e2e.py"), "--kfreeze", kf, "--cpus", "3", *three]),
        ("walkers", [str(E2E / "scx_running_e2e.py"), "--dump",
                     str(build / "tests" / "walkers" / "e2e_tool" / "scx_walkers_dump")]),
        ("maps", [str(E2E / "maps_e2e.py"), "--kfreeze", kf]),
        ("stall dual", [str(E2E / "scx_stall_e2e.py"), "--kfreezed", kfd, "--watch",
                        str(build / "tests" / "walkers" / "e2e_tool" / "scx_watch_dual")]),
    ]


def run(cmd, env, timeout):
    start = time.monotonic()
    try:
        res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=timeout)
        out, ok = res.stdout.decode(errors="replace"), res.returncode == 0
    except subprocess.TimeoutExpired as e:
        out, ok = (e.stdout or b"").decode(errors="replace") + f"\nTIMEOUT after {timeout}s", False
    return ok, time.monotonic() - start, out


def selected_release(cache: Path, arch: str):
    """The kernel `lab fetch` last selected in this cache dir for arch (tests/vm/README.md: "Host
    files"), or None."""
    path = cache / ("selected-kernel.json" if arch == "x86_64" else f"selected-kernel-{arch}.json")
    try:
        return json.loads(path.read_text()).get("release")
    except (OSError, ValueError):
        return None


def matrix_figures(out: str) -> dict:
    m = re.search(r"^MATRIX (.*)$", out, re.M)
    return dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--kernels", default=os.environ.get("KFREEZE_MATRIX_KERNELS", DEFAULT_KERNELS))
    ap.add_argument("--arches", default=os.environ.get("KFREEZE_MATRIX_ARCHES", DEFAULT_ARCHES),
                    help="guest architectures, comma separated (default %(default)s)")
    ap.add_argument("--checks", default="", help="comma-separated subset of the check names")
    ap.add_argument("--readme", help="write the table between the test-matrix markers of this file")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    build = Path(args.build).resolve()
    env_base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                    KFREEZE_VM_CACHE=os.environ.get("KFREEZE_VM_CACHE", str(build / "vm-cache")))
    wanted = {c.strip() for c in args.checks.split(",") if c.strip()}
    known = [n for n, _ in checks(build)]
    if wanted - set(known):
        ap.error(f"unknown checks {sorted(wanted - set(known))}; known: {known}")
    names = [n for n in known if not wanted or n in wanted]
    arches = [a.strip() for a in args.arches.split(",") if a.strip()]
    if set(arches) - {"x86_64", "arm64"}:
        ap.error(f"unknown architectures {sorted(set(arches) - {'x86_64', 'arm64'})}; known: x86_64, arm64")
    kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    rows, failures, notes = [], [], []
    # Each fetch selects its kernel in the cache dir; put back what `make test` booted before.
    cache = Path(env_base["KFREEZE_VM_CACHE"])
    before = {arch: selected_release(cache, arch) for arch in arches}
    for arch in arches:
        skipped = [k for k in kernels if arch == "arm64" and k.startswith(NO_ARM64)]
        if skipped:
            notes.append(f"arm64 has no {', '.join(skipped)} row: Debian's arm64 6.12 has no sched_ext and "
                         f"the lab builds 6.12 from source for x86-64 only.")
        for kernel in [k for k in kernels if k not in skipped]:
            label = f"{kernel} {arch}"
            env = dict(env_base, KFREEZE_VM_KERNEL=kernel, KFREEZE_VM_ARCH=arch)
            ok, secs, out = run([str(LAB), "fetch"], env, 7200)
            release = re.search(r"^KERNEL=(\S+)", out, re.M)
            row = {"kernel": release.group(1) if release else kernel, "arch": arch, "fetch": f"{secs:.0f} s"}
            if not ok:
                failures.append((label, "fetch", out))
                row.update({n: "not run (fetch failed)" for n in names})
                rows.append(row)
                continue
            for name, cmd in checks(build, arch):
                if name not in names:
                    continue
                ok, secs, out = run(cmd, env, args.timeout)
                row[name] = f"{'PASS' if ok else 'FAIL'} {secs:.0f} s"
                f = matrix_figures(out)
                if arch == "arm64" and f.get("paging"):
                    row[name] += f" ({f['paging']})"
                if name == "dump 2 vCPU":
                    row["boot"] = f"{f.get('boot_s', '?')} s"
                    row["attach"] = f"{f.get('attach_ms', '?')} ms"
                    row["window"] = f"{f.get('window_ms', '?')} ms"
                    row["layout"] = f.get("layout", "?")
                if not ok:
                    failures.append((label, name, out))
                print(f"{label} {name}: {row[name]}", file=sys.stderr, flush=True)
            rows.append(row)

    for arch, release in before.items():
        if release and selected_release(cache, arch) != release:
            env = dict(env_base, KFREEZE_VM_KERNEL=release, KFREEZE_VM_ARCH=arch)
            ok, _, out = run([str(LAB), "fetch"], env, 600)
            print(f"{arch}: selection {'restored to' if ok else 'NOT restored to'} {release}"
                  + ("" if ok else f":\n{out[-1000:]}"), file=sys.stderr, flush=True)

    cols = ["kernel", "arch", "layout", "fetch", "boot", "attach", "window"] + names
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    text = "\n".join(table + ([""] + notes if notes else []))
    print(text)
    if args.readme:
        readme = Path(args.readme)
        body = readme.read_text()
        stamp = time.strftime("%Y-%m-%d")
        block = f"{BEGIN}\nLast run {stamp} (`make test-matrix`, TCG, this repo's lab):\n\n{text}\n{END}"
        if BEGIN in body and END in body:
            body = body[:body.index(BEGIN)] + block + body[body.index(END) + len(END):]
        else:
            body += "\n" + block + "\n"
        readme.write_text(body)
    for kernel, name, out in failures:
        tail = "\n".join(out.strip().splitlines()[-15:])
        print(f"\n--- {kernel} / {name} failed:\n{tail}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
