#!/usr/bin/python3
"""`make test-matrix`: every e2e check of `make test`, on every sched_ext kernel of the matrix.

For each kernel (a version prefix the lab resolves: Debian's binaries, or the lab's own 6.12
build) it fetches the kernel once, then runs, each on a fresh guest:
  - kernel_matrix_e2e with 2 and with 3 vCPUs (inspect + kfreeze dump vs the guest);
  - scx_running_e2e (tasks, DSQs, scheduler, per-CPU time, NUMA, PSI vs the guest);
  - maps_e2e (every map vs bpftool);
  - scx_stall_e2e (kfreezed's auto-triggers publish the dual report with the stall's exit kind).
It prints a kernel x check table (PASS/FAIL with seconds, plus boot, attach and freeze-window
figures from kernel_matrix_e2e) and, with --readme, writes it between the matrix markers of the
README. Exit status 1 when any cell failed; each failure's last lines are printed below the table.

Usage: run_matrix.py --build build [--kernels 6.12,6.16,...] [--checks walkers,maps]
                     [--readme README.md]
"""

import argparse
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
BEGIN, END = "<!-- test-matrix:begin -->", "<!-- test-matrix:end -->"


def checks(build: Path):
    kf = str(build / "clients" / "kfreeze" / "kfreeze")
    kfd = str(build / "server" / "kfreezed" / "kfreezed")
    return [
        ("dump 2 vCPU", [str(E2E / "kernel_matrix_e2e.py"), "--kfreeze", kf, "--cpus", "2"]),
        ("dump 3 vCPU", [str(E2E / "kernel_matrix_e2e.py"), "--kfreeze", kf, "--cpus", "3"]),
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


def matrix_figures(out: str) -> dict:
    m = re.search(r"^MATRIX (.*)$", out, re.M)
    return dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--kernels", default=os.environ.get("KFREEZE_MATRIX_KERNELS", DEFAULT_KERNELS))
    ap.add_argument("--checks", default="", help="comma-separated subset of the check names")
    ap.add_argument("--readme", help="write the table between the test-matrix markers of this file")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    build = Path(args.build).resolve()
    env_base = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
                    KFREEZE_VM_CACHE=os.environ.get("KFREEZE_VM_CACHE", str(build / "vm-cache")))
    wanted = {c.strip() for c in args.checks.split(",") if c.strip()}
    selected = [(n, cmd) for n, cmd in checks(build) if not wanted or n in wanted]
    if wanted - {n for n, _ in selected}:
        ap.error(f"unknown checks {sorted(wanted - {n for n, _ in selected})}; "
                 f"known: {[n for n, _ in checks(build)]}")
    names = [n for n, _ in selected]
    rows, failures = [], []
    for kernel in [k.strip() for k in args.kernels.split(",") if k.strip()]:
        env = dict(env_base, KFREEZE_VM_KERNEL=kernel)
        ok, secs, out = run([str(LAB), "fetch"], env, 7200)
        release = re.search(r"^KERNEL=(\S+)", out, re.M)
        row = {"kernel": release.group(1) if release else kernel, "fetch": f"{secs:.0f} s"}
        if not ok:
            failures.append((kernel, "fetch", out))
            row.update({n: "not run (fetch failed)" for n in names})
            rows.append(row)
            continue
        for name, cmd in selected:
            ok, secs, out = run(cmd, env, args.timeout)
            row[name] = f"{'PASS' if ok else 'FAIL'} {secs:.0f} s"
            if name == "dump 2 vCPU":
                f = matrix_figures(out)
                row["boot"] = f"{f.get('boot_s', '?')} s"
                row["attach"] = f"{f.get('attach_ms', '?')} ms"
                row["window"] = f"{f.get('window_ms', '?')} ms"
                row["layout"] = f.get("layout", "?")
            if not ok:
                failures.append((kernel, name, out))
            print(f"{kernel} {name}: {row[name]}", file=sys.stderr, flush=True)
        rows.append(row)

    cols = ["kernel", "layout", "fetch", "boot", "attach", "window"] + names
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    text = "\n".join(table)
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
