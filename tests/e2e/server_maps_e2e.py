#!/usr/bin/python3
"""Freeze through kfreezed returns a `single` report whose BPF maps match the guest.

Boots the lab's `maps` scenario, freezes it through the daemon (QMP pause), converts the dump's
report to ktstr JSON with `kfreeze report convert`, and compares it map by map with `lab truth`
(`bpftool -j map show` / `map dump`) using the maps e2e's comparison (maps_e2e.compare).

Usage: server_maps_e2e.py --kfreezed BUILD/server/kfreezed/kfreezed --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import json
import sys
import tempfile
from pathlib import Path

import maps_e2e
from e2e_common import arg_parser, check, labclient, outcome, run_tool
from server_support import Daemon, report_of


def main():
    args = arg_parser(__doc__, "e2e-server-maps", "kfreezed", "kfreeze").parse_args()

    def body():
        with labclient.guest(args.name, "maps") as g, tempfile.TemporaryDirectory(prefix="kfd-maps-") as tmp, \
                Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"]) as d:
            d.wait_attached("vm")
            truth = g.truth()
            r = d.freeze("vm")
            kind, single = report_of(r["envelope"])
            check(kind == "single", f"Freeze returned {kind}: {single.get('reason')}")
            check(not r["envelope"].get("live"), "the dump is live although the target has QMP")
            path = Path(tmp) / "single.json"
            path.write_text(json.dumps(single))
            conv = run_tool([args.kfreeze, "report", "convert", "--to", "ktstr-json", path], "report convert",
                            timeout=120)
            km = json.loads(conv.stdout)
            window = next((t for t in r["envelope"]["timings"] if t["phase"] == "freeze_window"), {})
            print(f"dump {r['dump_id']}: {len(km.get('maps', []))} maps, freeze window "
                  f"{int(window.get('duration_us', 0)) / 1000:.1f} ms", flush=True)
            return maps_e2e.report(maps_e2e.compare(km, truth), km, 0)

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
