#!/usr/bin/python3
"""What kernel stacks cost the freeze window, measured on a lab guest.

Boots the `idle` scenario plus a few hundred sleeping tasks (so there are stacks to copy), then
alternates `kfreeze dump` with every section and with every section but `stacks`, N times each,
and prints the median freeze window of both, their ratio, and the median time of the stacks
phase inside the window (the copy) and of its decode after the resume. One run, one machine
state: compare the two medians of the same run, not numbers across runs.

Usage: bench/guest/stacks_window.py --kfreeze build/clients/kfreeze/kfreeze [--rounds 15]
       [--sleepers 300]   (KFREEZE_VM_CACHE / KFREEZE_VM_KERNEL select the lab cache and kernel)
"""

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
from e2e_common import arg_parser, labclient, run_tool  # noqa: E402

# Envelope timings that are steps of the freeze, not phases.
NOT_PHASES = {"run_state", "pause", "regs", "resume", "freeze_window", "total", "hard_stop"}


def dump(kfreeze, g, sections):
    cmd = [kfreeze, "dump", "--ram", g.ram, "--qmp", g.qmp, "--format", "proto-json"]
    if sections:
        cmd += ["--sections", ",".join(sections)]
    env = json.loads(run_tool(cmd, "kfreeze dump").stdout)
    timings = {t["phase"]: int(t.get("duration_us", 0)) for t in env.get("timings", [])}
    report = env.get("single", {})
    stacks = sum(1 for t in report.get("task_enrichments", []) if t.get("kernel_stack"))
    return timings, stacks


def main():
    ap = arg_parser(__doc__, "bench-stacks", "kfreeze")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--sleepers", type=int, default=300)
    args = ap.parse_args()
    with labclient.guest(args.name, "idle") as g:
        g.exec(f"i=0; while [ $i -lt {args.sleepers} ]; do setsid sleep 100000 </dev/null "
               f">/dev/null 2>&1 & i=$((i+1)); done", check=True)
        timings, _ = dump(args.kfreeze, g, None)
        phases = [p for p in timings if p not in NOT_PHASES and not p.endswith("_decode")]
        without = [p for p in phases if p != "stacks"]
        runs = {"all": [], "no_stacks": []}
        copy_us, decode_us, with_stacks = [], [], 0
        for _ in range(args.rounds):
            t, n = dump(args.kfreeze, g, None)
            runs["all"].append(t["freeze_window"])
            copy_us.append(t.get("stacks", 0))
            decode_us.append(t.get("stacks_decode", 0))
            with_stacks = max(with_stacks, n)
            t, _ = dump(args.kfreeze, g, without)
            runs["no_stacks"].append(t["freeze_window"])
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"tasks with a kernel stack: {with_stacks}; rounds: {args.rounds}")
    print(f"freeze_window median: all sections {med['all'] / 1000:.2f} ms, "
          f"without stacks {med['no_stacks'] / 1000:.2f} ms, "
          f"ratio {med['all'] / med['no_stacks']:.3f}")
    print(f"stacks phase (copy, in the window) median {statistics.median(copy_us) / 1000:.2f} ms; "
          f"stacks_decode (after cont) median {statistics.median(decode_us) / 1000:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
