#!/usr/bin/python3
"""Whether the dashboard stays interactive with a 100,000-entry map and ~2,000 tasks.

Boots a guest of the `scale` scenario (one hash map of --entries 64-byte struct values, --tasks
sleeping processes), starts kfreezed with `--http` on loopback, takes one Freeze with
`--max-map-entries 0` (every entry rendered), then drives the dump page in headless Chromium
(tests/browser/dashboard_check.mjs, step `scroll`) and prints: the page load (until the report
is drawn), the map table's row count, the frame time of 50 scroll steps through the entries
(p50 and max, in ms: one 60 Hz frame is 16.7 ms, and each step waits two frames), and the time
for a server-side search to narrow the table.

Usage: bench/guest/dashboard_scale.py --kfreezed build/server/kfreezed/kfreezed
         --kfreeze build/clients/kfreeze/kfreeze [--entries 100000] [--tasks 2000]
         [--npm-prefix build/browser-npm] [--shots build/test-artifacts/dashboard-scale]
"""

import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from dashboard_e2e import drive, ensure_puppeteer  # noqa: E402
from e2e_common import arg_parser, check, labclient, outcome  # noqa: E402
from server_support import Daemon  # noqa: E402


def main():
    ap = arg_parser(__doc__, "bench-dashboard", "kfreezed", "kfreeze")
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--npm-prefix", type=Path, default=ROOT / "build" / "browser-npm")
    ap.add_argument("--shots", type=Path, default=ROOT / "build" / "test-artifacts" / "dashboard-scale")
    args = ap.parse_args()
    return outcome(lambda: run(args))


def run(args):
    script = ensure_puppeteer(ROOT / "tests" / "browser", args.npm_prefix)
    args.shots.mkdir(parents=True, exist_ok=True)
    params = {"entries": args.entries, "value_size": 64, "maps": 1, "tasks": args.tasks}
    with labclient.guest(args.name, "scale", params=params) as g, tempfile.TemporaryDirectory() as tmp:
        with Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=sc,ram={g.ram},qmp={g.qmp}"],
                    extra_args=["--http", "127.0.0.1:0"]) as d:
            d.wait_attached("sc")
            base = "http://" + re.search(r"http: serving (127\.0\.0\.1:\d+)", d.log_text()).group(1)
            dump = d.freeze("sc", "--max-map-entries", "0")
            dump_id = dump.get("dump_id") or dump.get("dumpId")
            report = dump["envelope"]["single"]
            big = max(report["maps"], key=lambda m: len(m.get("entries", [])))
            check(len(big.get("entries", [])) == args.entries,
                  f"{big['name']} has {len(big.get('entries', []))} entries, not {args.entries}")
            found = drive(script, "scroll", base, args.shots, dump_id, big["name"], timeout=600)
            print(f"{'entries':>8} {'tasks':>6} {'page load':>10} {'rows':>7} {'scroll p50':>11} "
                  f"{'scroll max':>11} {'search':>8}")
            print(f"{args.entries:>8} {len(report.get('task_enrichments', [])):>6} "
                  f"{found['load_ms']:>8} ms {found['rows']:>7} {found['frame_ms']['p50']:>8.1f} ms "
                  f"{found['frame_ms']['max']:>8.1f} ms {found['search_ms']:>5} ms")
            print(json.dumps(found))
            check(found["rows"] == args.entries, f"the table holds {found['rows']} rows")


if __name__ == "__main__":
    sys.exit(main())
