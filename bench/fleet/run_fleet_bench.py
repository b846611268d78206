#!/usr/bin/python3
"""The fleet publish benchmark on loopback NATS JetStream clusters (docs/design/fleet-scale.md).

Starts a 3-node cluster (tests/support/nats_cluster.py, no accounts) in a temporary directory and
runs fleet_publish_bench on it with replicas 3, then does the same on a single node with
replicas 1 for comparison. Prints each run's table, a `BENCH {"what": "disk", ...}` line per run
(each node's disk writes over the whole run per body byte published, from /proc/<pid>/io), then
both runs' BENCH lines together, and stops every server it started, whatever happens. About 70 s
on 2 cores with the defaults.

Usage: bench/fleet/run_fleet_bench.py --bench build/bench/fleet/fleet_publish_bench
         [--publishers 8] [--phase-seconds 6] [--sizes 40754,1048576,10485760]
         [--body envelope|random] [--only 3|1] [--memory]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
from nats_cluster import NatsCluster  # noqa: E402


def written_bytes(pid):
    """Bytes the process has dirtied toward the disk (page cache included: nats-server 2.9 does
    not fsync each write), whether or not a later delete cancelled their write-back."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def disk_line(label, cluster, before, lines):
    """Each node's disk writes over the whole run per body byte published (the phases are too
    short to attribute write-back lag to one of them)."""
    rows = [json.loads(line[len("BENCH "):]) for line in lines]
    body = sum(r["dumps"] * r["body_bytes"] for r in rows if "dumps" in r)
    per_node = {f"n{i}": round((written_bytes(p.pid) - before[i]) / body, 3)
                for i, p in cluster.procs.items()}
    return "BENCH " + json.dumps({"what": "disk", "label": label, "body_bytes_published": body,
                                  "written_per_body_byte": per_node})


def run_on_cluster(args, nodes, replicas, workdir):
    label = f"{nodes}-node R{replicas}"
    with NatsCluster(Path(workdir) / f"nodes{nodes}", nodes=nodes, accounts=False) as cluster:
        cmd = [str(args.bench), "--nats", cluster.servers(), "--replicas", str(replicas),
               "--publishers", str(args.publishers), "--phase_seconds", str(args.phase_seconds),
               "--sizes", args.sizes, "--body", args.body, "--label", label,
               "--server_pids", ",".join(str(p.pid) for p in cluster.procs.values())]
        print(f"== {label}: {' '.join(cmd)}", flush=True)
        before = {i: written_bytes(p.pid) for i, p in cluster.procs.items()}
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=300)
        time.sleep(3)  # the servers' own write buffers reach the page cache
        print(out.stdout, end="", flush=True)
        if out.returncode != 0:
            tails = "".join(f"---- n{i}\n{cluster.log_tail(i, 1500)}" for i in range(1, nodes + 1))
            raise SystemExit(f"{label}: fleet_publish_bench exited {out.returncode}\n{tails}")
        lines = [line for line in out.stdout.splitlines() if line.startswith("BENCH ")]
        lines.append(disk_line(label, cluster, before, lines))
        print(lines[-1], flush=True)
        return lines


def memory_per_object(args, workdir):
    """Server memory against the number of stored dumps: small bodies, nothing purged, on a
    3-node R3 cluster. RSS includes block caches and Go heap slack: an upper bound."""
    with NatsCluster(Path(workdir) / "memory", accounts=False) as cluster:
        def rss():
            return {f"n{i}": cluster.monitor(i, "/varz")[1]["mem"] for i in range(1, 4)}
        before = rss()
        cmd = [str(args.bench), "--nats", cluster.servers(), "--replicas", "3", "--sizes", "1024",
               "--publishers", str(args.publishers), "--phase_seconds", "15", "--purge=false",
               "--keep", "--label", "memory"]
        print(f"== memory: {' '.join(cmd)}", flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=300)
        time.sleep(20)  # block caches expire after 5 s of no use
        after = rss()
        streams = {s["name"]: s["state"] for a in cluster.monitor(1, "/jsz?streams=1")[1]
                   ["account_details"] for s in a["stream_detail"]}
        dumps = streams["KFREEZE_BENCH_DUMPS"]["messages"]
        line = "BENCH " + json.dumps({
            "what": "memory", "dumps_stored": dumps,
            "bucket_subjects": streams["OBJ_kfreeze-bench-dumps"]["num_subjects"],
            "rss_before": before, "rss_after": after,
            "rss_bytes_per_dump": {n: round((after[n] - before[n]) / dumps) for n in after}})
        print(line, flush=True)
        return [line]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", type=Path, required=True, help="build/bench/fleet/fleet_publish_bench")
    ap.add_argument("--publishers", type=int, default=8)
    ap.add_argument("--phase-seconds", type=float, default=6)
    ap.add_argument("--sizes", default="40754,1048576,10485760")
    ap.add_argument("--body", choices=("envelope", "random"), default="envelope")
    ap.add_argument("--only", type=int, choices=(1, 3), help="run on this many nodes only")
    ap.add_argument("--memory", action="store_true",
                    help="instead: server RSS per stored dump (3 nodes, R3, ~60 s)")
    args = ap.parse_args()
    if not args.bench.exists():
        raise SystemExit(f"{args.bench}: not built (cmake --build BUILD --target fleet_publish_bench)")
    lines = []
    with tempfile.TemporaryDirectory(prefix="kfreeze-fleet-bench-") as tmp:
        if args.memory:
            lines += memory_per_object(args, tmp)
        for nodes, replicas in ((3, 3), (1, 1)):
            if args.only in (None, nodes) and not args.memory:
                lines += run_on_cluster(args, nodes, replicas, tmp)
    print("\n== all BENCH lines")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
