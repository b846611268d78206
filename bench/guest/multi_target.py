#!/usr/bin/python3
"""Eight lab guests on one kfreezed: does a Freeze on all of them at once stretch their windows?

Boots --guests lab guests (mt1..mtN, scx-running, --mem 512; one after the other; a guest already
running under that name is reused), starts one kfreezed with all of them as targets (archive on a
real disk under /var/tmp), then through bench/server's freeze_rpc_loop:
  solo        each target alone, --solo-rounds Freezes (median freeze window per target);
  concurrent  --rounds rounds of one Freeze per target, all fired at once (one client thread each).
Prints per target the solo and concurrent medians of the freeze window (stop .. cont acknowledged)
and of the RPC, and the ratio concurrent / solo window (the contract: <= 1.2), plus the host's
load (TCG guests share the host's cores with the daemon). --keep leaves the guests up.

Usage: bench/guest/multi_target.py --kfreezed build/server/kfreezed/kfreezed \\
         --kfreeze build/clients/kfreeze/kfreeze --loop build/bench/server/freeze_rpc_loop \\
         [--guests 8] [--prefix mt] [--solo-rounds 5] [--rounds 5] [--keep]
"""

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_common import Failure, arg_parser, labclient, outcome  # noqa: E402
from freeze_latency import running_guest  # noqa: E402
from freeze_rpc_stats import median, run_loop  # noqa: E402
from server_support import Daemon  # noqa: E402


def main():
    ap = arg_parser(__doc__, "mt", "kfreezed", "kfreeze", "loop")
    ap.add_argument("--guests", type=int, default=8)
    ap.add_argument("--prefix", default="mt", help="guest names: PREFIX1..PREFIXN")
    ap.add_argument("--mem", type=int, default=512)
    ap.add_argument("--solo-rounds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="leave the guests up")
    args = ap.parse_args()
    return outcome(lambda: run(args))


def boot(name, mem):
    try:
        return running_guest(name)
    except Failure:
        info = labclient.up(name, "scx-running", mem=mem)
        return labclient.Guest(name, info)


def run(args):
    names = [f"{args.prefix}{i}" for i in range(1, args.guests + 1)]
    try:
        guests = []
        for n in names:
            guests.append(boot(n, args.mem))
            print(f"{n} up", flush=True)
        with tempfile.TemporaryDirectory(prefix="kfd-mt-", dir="/var/tmp") as tmp:
            config = {"targets": [{"name": g.name, "ram_path": str(g.ram), "qmp_socket": str(g.qmp)}
                                  for g in guests], "archive": {"max_count": 400}}
            with Daemon(args.kfreezed, args.kfreeze, tmp, [], config=config) as d:
                try:
                    measure(args, d, names)
                except Failure:
                    print(d.log_tail(2000))
                    raise
    finally:
        if not args.keep:
            for n in names:
                labclient.down(n)


def measure(args, d, names):
    for n in names:
        d.wait_attached(n, timeout=300)
    # One warm-up freeze each (first-call lazy work), then solo rounds, target by target.
    run_loop(args.loop, d.sock, names, 1)
    solo = {n: run_loop(args.loop, d.sock, [n], args.solo_rounds) for n in names}
    load_solo = os.getloadavg()[0]
    conc = run_loop(args.loop, d.sock, names, args.rounds, concurrent=True)
    load_conc = os.getloadavg()[0]
    print(f"{'target':8} {'solo win ms':>11} {'conc win ms':>11} {'ratio':>6} "
          f"{'solo rpc ms':>11} {'conc rpc ms':>11} {'solo copy':>9} {'conc copy':>9}")
    ratios = []
    for n in names:
        s, c = solo[n], [x for x in conc if x["target"] == n]
        sw, cw = median([x["freeze_window_us"] / 1000 for x in s]), median([x["freeze_window_us"] / 1000 for x in c])
        ratios.append(cw / sw)
        print(f"{n:8} {sw:11.2f} {cw:11.2f} {cw / sw:6.2f} "
              f"{median([x['rpc_us'] / 1000 for x in s]):11.2f} {median([x['rpc_us'] / 1000 for x in c]):11.2f} "
              f"{median([x.get('copy_us', 0) / 1000 for x in s]):9.2f} {median([x.get('copy_us', 0) / 1000 for x in c]):9.2f}")
    print(f"window ratio concurrent/solo: median {median(ratios):.2f}, max {max(ratios):.2f} (contract <= 1.2); "
          f"load average {load_solo:.1f} (solo) / {load_conc:.1f} (concurrent) on {os.cpu_count()} cores")
    rounds_wall = {}
    for x in conc:
        rounds_wall.setdefault(x["round"], []).append(x["rpc_us"] / 1000)
    print("concurrent round wall (slowest RPC) ms: " + ", ".join(f"{max(v):.1f}" for _, v in sorted(rounds_wall.items())))


if __name__ == "__main__":
    sys.exit(main())
