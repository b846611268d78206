#!/usr/bin/python3
"""A long-running kfreezed does not grow: N freezes of one lab guest, and
kfreezed's anonymous RSS after them stays within 10 % of its RSS after the first 10.

Prints RssAnon at checkpoints so a regression shows where memory goes (steady growth: a leak or
an unbounded cache; a plateau well above the start: allocator arenas). Run against the ASan build
it fails by design: ASan keeps up to 256 MB of freed memory in quarantine to catch use-after-free
(94 MB after attach, 271 MB after 150 freezes, 423 MB after 300 with build-asan's kfreezed of
c648ac8, flat with ASAN_OPTIONS=quarantine_size_mb=0) — growth that is ASan's, not kfreezed's.

Usage: rss_soak_e2e.py --kfreezed ... --kfreeze ... [--freezes 1000]
"""

import sys
import tempfile
import time
from pathlib import Path

from e2e_common import Failure, arg_parser, check, labclient, outcome
from server_support import Daemon, report_of

BASELINE_AFTER = 10
TOLERANCE = 1.10


def rss_anon_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise Failure(f"no RssAnon for pid {pid}")


def main():
    ap = arg_parser(__doc__, "e2e-rss", "kfreezed", "kfreeze")
    ap.add_argument("--freezes", type=int, default=1000)
    ap.add_argument("--scenario", default="maps", help="lab scenario (maps: every map type, BTF-rendered)")
    ap.add_argument("--mem", type=int, default=None, help="guest RAM in MiB (the lab's default otherwise)")
    args = ap.parse_args()
    if args.freezes <= BASELINE_AFTER:
        ap.error(f"--freezes must exceed {BASELINE_AFTER}")
    return outcome(lambda: run(args))


def run(args):
    up_kw = {"mem": args.mem} if args.mem else {}
    with labclient.guest(args.name, args.scenario, **up_kw) as g, tempfile.TemporaryDirectory(prefix="kfd-rss-") as tmp:
        # As deployed (deploy/kfreezed.example.json): auto-triggers polling and event sampling run
        # between the freezes.
        target = {"name": "vm", "ram_path": str(g.ram), "qmp_socket": str(g.qmp),
                  "triggers": {"late_enabled": True, "early_enabled": True}, "event_sample_ms": 500}
        with Daemon(args.kfreezed, args.kfreeze, tmp, [], config={"targets": [target]}) as d:
            try:
                soak(d, args.freezes)
            except Failure:
                print(d.log_tail(2000))
                raise


def soak(d, freezes):
    d.wait_attached("vm")
    pid = d.proc.pid
    print(f"after attach: RssAnon {rss_anon_kib(pid)} KiB", flush=True)
    checkpoints = {c for c in (BASELINE_AFTER, freezes // 4, freezes // 2, freezes) if c >= BASELINE_AFTER}
    baseline = None
    began = time.time()
    for i in range(1, freezes + 1):
        r = d.freeze("vm")
        kind, rep = report_of(r["envelope"])
        check(kind == "single", f"freeze {i}: schema {kind}: {rep.get('reason')}")
        if i in checkpoints:
            kib = rss_anon_kib(pid)
            baseline = kib if i == BASELINE_AFTER else baseline
            print(f"after {i} freezes ({time.time() - began:.0f} s): RssAnon {kib} KiB "
                  f"({kib / baseline:.3f} x after {BASELINE_AFTER})", flush=True)
    final = rss_anon_kib(pid)
    check(final <= baseline * TOLERANCE,
          f"RssAnon grew from {baseline} KiB after {BASELINE_AFTER} freezes to {final} KiB after "
          f"{freezes} (limit {TOLERANCE:.2f} x)")
    print(f"RssAnon {final} KiB after {freezes} freezes = {final / baseline:.3f} x "
          f"the {baseline} KiB after {BASELINE_AFTER}")


if __name__ == "__main__":
    sys.exit(main())
