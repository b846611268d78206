#!/usr/bin/python3
"""Freeze RPC latency with the archive durable on disk, and kfreezed's memory over 1,000 freezes.

Boots a lab guest of the scx-running scenario (or reuses a running one: --reuse NAME), starts
kfreezed with its archive on a real disk (a directory under --workdir-parent, /var/tmp by default;
never /dev/shm: the point is the fsync cost) and a retention bound (--max-count), attaches the
guest, then calls Freeze --freezes times through bench/server's freeze_rpc_loop (every call timed
inside one client process, so no process spawn is counted). Prints Freeze RPC p50/p99, the
envelopes' freeze_window / copy / decode p50, the daemon's own `archive=` time p50/p99 (from its
log: the time to make the dump durable), and kfreezed's RssAnon after 10 freezes, at each quarter
and at the end, with the ratio to the one after 10 (the target: within 1.10).

Usage: bench/guest/freeze_latency.py --kfreezed build/server/kfreezed/kfreezed \\
         --kfreeze build/clients/kfreeze/kfreeze --loop build/bench/server/freeze_rpc_loop \\
         [--freezes 1000] [--max-count 200] [--name arlat | --reuse NAME]
       (KFREEZE_VM_CACHE / KFREEZE_VM_KERNEL select the lab cache and kernel)
"""

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_common import Failure, arg_parser, check, labclient, outcome  # noqa: E402
from freeze_rpc_stats import archive_ms_from_log, median, percentile, rss_anon_kib, run_loop  # noqa: E402
from server_support import Daemon  # noqa: E402

BASELINE_AFTER = 10


def running_guest(name):
    """A guest `lab list` shows running, as a labclient.Guest (RAM from the list, QMP from its run
    dir)."""
    res = labclient._lab("list")
    for line in res.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == name and parts[1] == "running":
            kv = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
            cache = os.environ.get("KFREEZE_VM_CACHE", str(Path(__file__).resolve().parents[2] / "build" / "vm-cache"))
            return labclient.Guest(name, {"RAM": kv["ram"], "QMP": f"{cache}/run/{name}/qmp.sock",
                                          "PID": kv.get("pid", "0")})
    raise Failure(f"guest {name} is not running")


@contextlib.contextmanager
def reused(name):
    yield running_guest(name)


def main():
    ap = arg_parser(__doc__, "arlat", "kfreezed", "kfreeze", "loop")
    ap.add_argument("--freezes", type=int, default=1000)
    ap.add_argument("--max-count", type=int, default=200, help="archive retention (dumps kept)")
    ap.add_argument("--reuse", default=None, help="a running lab guest to use instead of booting one")
    ap.add_argument("--workdir-parent", default="/var/tmp", help="where the archive goes (a real disk)")
    args = ap.parse_args()
    if args.freezes <= BASELINE_AFTER:
        ap.error(f"--freezes must exceed {BASELINE_AFTER}")
    return outcome(lambda: run(args))


def run(args):
    guest = reused(args.reuse) if args.reuse else labclient.guest(args.name, "scx-running")
    with guest as g, tempfile.TemporaryDirectory(prefix="kfd-lat-", dir=args.workdir_parent) as tmp:
        target = {"name": "vm", "ram_path": str(g.ram), "qmp_socket": str(g.qmp)}
        config = {"targets": [target], "archive": {"max_count": args.max_count}}
        with Daemon(args.kfreezed, args.kfreeze, tmp, [], config=config) as d:
            try:
                measure(args, d, Path(tmp) / "archive")
            except Failure:
                print(d.log_tail(2000))
                raise


def measure(args, d, archive_dir):
    d.wait_attached("vm")
    pid = d.proc.pid
    print(f"archive: {archive_dir} (fs of {os.stat(archive_dir).st_dev:#x}); retention max_count "
          f"{args.max_count}; after attach RssAnon {rss_anon_kib(pid)} KiB", flush=True)
    q = args.freezes // 4
    checkpoints = sorted({BASELINE_AFTER, *(c for c in (q, 2 * q, 3 * q) if c > BASELINE_AFTER), args.freezes})
    calls, done, baseline, rss = [], 0, None, {}
    began = time.time()
    for c in checkpoints:
        calls += run_loop(args.loop, d.sock, ["vm"], c - done)
        done = c
        rss[c] = rss_anon_kib(pid)
        baseline = baseline or rss[c]
        print(f"after {c} freezes ({time.time() - began:.0f} s): RssAnon {rss[c]} KiB "
              f"({rss[c] / baseline:.3f} x after {BASELINE_AFTER})", flush=True)
    steady = calls[BASELINE_AFTER:]  # the first calls pay the attach's lazy work
    rpc = [c["rpc_us"] / 1000 for c in steady]
    print(f"Freeze RPC over calls {BASELINE_AFTER + 1}..{args.freezes}: p50 {percentile(rpc, 50):.2f} ms  "
          f"p99 {percentile(rpc, 99):.2f} ms  min {min(rpc):.2f}  max {max(rpc):.2f}")
    for phase in ("freeze_window", "copy", "decode", "total"):
        v = [c[f"{phase}_us"] / 1000 for c in steady if f"{phase}_us" in c]
        if v:
            print(f"  envelope {phase}: p50 {median(v):.2f} ms  p99 {percentile(v, 99):.2f} ms")
    arch = archive_ms_from_log(d.log_text(), "vm")[BASELINE_AFTER:]
    if arch:
        print(f"  daemon archive (durable store): p50 {median(arch):.1f} ms  p99 {percentile(arch, 99):.1f} ms")
    print(f"  envelope bytes p50 {median([c['bytes'] for c in steady]):.0f}, "
          f"window_bytes p50 {median([c['window_bytes'] for c in steady]):.0f}")
    final = rss[args.freezes]
    print(f"RssAnon {final} KiB after {args.freezes} freezes = {final / baseline:.3f} x the {baseline} KiB "
          f"after {BASELINE_AFTER} (target <= 1.10)")
    dumps = len(list((archive_dir / "dumps").glob("*.binpb")))
    check(dumps <= args.max_count, f"{dumps} dump files kept, retention is {args.max_count}")
    print(f"archive holds {dumps} dumps; journals: {sorted(p.name for p in archive_dir.glob('journal-*.log'))}")


if __name__ == "__main__":
    sys.exit(main())
