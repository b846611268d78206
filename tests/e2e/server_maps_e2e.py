#!/usr/bin/python3
"""Freeze through kfreezed returns a `single` report whose BPF maps match the guest (issue 6).

Boots the lab's `maps` scenario, freezes it through the daemon (QMP pause), converts the dump's
report to ktstr JSON with `kfreeze report convert`, and compares it map by map with `lab truth`
(`bpftool -j map show` / `map dump`) using the maps e2e's comparison (maps_e2e.compare).

Usage: server_maps_e2e.py --kfreezed BUILD/server/kfreezed/kfreezed --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "vm"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import labclient  # noqa: E402
import maps_e2e  # noqa: E402
from server_support import Daemon, Failure, report_of  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kfreezed", required=True)
    ap.add_argument("--kfreeze", required=True)
    ap.add_argument("--name", default="e2e-server-maps")
    args = ap.parse_args()
    with labclient.guest(args.name, "maps") as g, tempfile.TemporaryDirectory(prefix="kfd-maps-") as tmp:
        d = Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"]).start()
        try:
            d.wait_attached("vm")
            truth = g.truth()
            r = d.freeze("vm")
            kind, single = report_of(r["envelope"])
            if kind != "single":
                print(f"FAIL: Freeze returned {kind}: {single.get('reason')}")
                return 1
            if r["envelope"].get("live"):
                print("FAIL: the dump is live although the target has QMP")
                return 1
            path = Path(tmp) / "single.json"
            path.write_text(json.dumps(single))
            conv = subprocess.run([args.kfreeze, "report", "convert", "--to", "ktstr-json", str(path)],
                                  capture_output=True, text=True, timeout=120)
            if conv.returncode != 0:
                print(f"FAIL: report convert: {conv.stderr.strip()}")
                return 1
            km = json.loads(conv.stdout)
            window = next((t for t in r["envelope"]["timings"] if t["phase"] == "freeze_window"), {})
            print(f"dump {r['dump_id']}: {len(km.get('maps', []))} maps, freeze window "
                  f"{int(window.get('duration_us', 0)) / 1000:.1f} ms", flush=True)
            return maps_e2e.report(maps_e2e.compare(km, truth), km, 0)
        except Failure as e:
            print(f"FAIL: {e}")
            return 1
        finally:
            d.stop()


if __name__ == "__main__":
    sys.exit(main())
