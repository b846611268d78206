#!/usr/bin/python3
"""The fleet (issue 17, docs/design/fleet.md) on real parts: a 3-node nats-server JetStream cluster
on loopback (tests/support/nats_cluster.py, users kfreezed / watcher / operator), two kfreezed
(hostA, hostB), each with its own lab guest. Checks:
  - `kfreeze targets --nats` lists both hosts and their targets;
  - a request-reply Freeze of each guest through NATS (operator) returns its dump;
  - a fleet watch (watcher) sees both hosts' dumps, with host and target;
  - `kfreeze get --nats HOST/ID` returns the same body as the host's GetDump;
  - the watcher's freeze is refused, and no dump is taken; nor does a message the server delivers
    on a freeze subject for the watcher (a reply to a forged reply subject) take one;
  - one NATS node (the stream's leader) stopped mid-run: every dump taken meanwhile arrives, once;
  - the whole cluster stopped, 5 dumps taken, the cluster started again: all 5 arrive, once each,
    in order.

Usage: fleet_e2e.py --kfreezed BUILD/server/kfreezed/kfreezed --kfreeze BUILD/clients/kfreeze/kfreeze
"""

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from e2e_common import Failure, arg_parser, check, labclient, outcome  # noqa: E402
from nats_cluster import STREAM, NatsCluster  # noqa: E402
from nats_cluster_selftest import Wire  # noqa: E402
from server_support import Daemon  # noqa: E402

# The whole cluster comes back in 5-10 s (leader election from saved state); kfreezed's retries
# back off to 30 s at most.
BACKLOG_TIMEOUT = 120


class FleetWatch:
    """`kfreeze watch --nats ... --summary-only --json` in the background, its events parsed."""

    def __init__(self, kfreeze, servers, *extra):
        self.proc = subprocess.Popen([kfreeze, "watch", "--nats", servers, "--summary-only", "--json",
                                      *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events, self.lock = [], threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        dec, buf = json.JSONDecoder(), ""
        for line in self.proc.stdout:
            buf += line
            try:
                obj, end = dec.raw_decode(buf.strip())
            except ValueError:
                continue
            buf = buf.strip()[end:]
            with self.lock:
                self.events.append(obj["summary"])

    def ids(self):
        with self.lock:
            return [(e.get("host"), e["dump_id"]) for e in self.events]

    def wait_for(self, wanted, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if set(wanted) <= set(self.ids()):
                return self.ids()
            if self.proc.poll() is not None:
                raise Failure(f"fleet watch exited: {self.proc.stderr.read()[-2000:]}")
            time.sleep(0.2)
        raise Failure(f"fleet watch missed {sorted(set(wanted) - set(self.ids()))}; saw {self.ids()}")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def main():
    args = arg_parser(__doc__, "e2e-fleet", "kfreezed", "kfreeze").parse_args()
    return outcome(lambda: run(args))


def kf(args, *argv, timeout=120):
    return subprocess.run([args.kfreeze, *argv], capture_output=True, text=True, timeout=timeout)


def local_ids(d):
    return [s["dump_id"] for s in json.loads(d.cli("list", "--json").stdout).get("dumps", [])]


def stream_leader(c):
    """The node (1-based) leading the dump stream, from the monitoring endpoint."""
    for i in c.running_nodes():
        _, jsz = c.monitor(i, "/jsz?streams=1&accounts=1")
        for acc in (jsz or {}).get("account_details", []):
            for s in acc.get("stream_detail", []):
                if s.get("name") == STREAM and s.get("cluster", {}).get("leader"):
                    return int(s["cluster"]["leader"].lstrip("n"))
    return None


def run(args):
    with tempfile.TemporaryDirectory(prefix="kfd-fleet-") as tmp, \
            NatsCluster(Path(tmp) / "nats") as c, \
            labclient.guest(args.name, "scx-running") as ga, \
            labclient.guest(args.name + "-b", "idle", cpus=1) as gb:
        tmp = Path(tmp)
        daemon_urls = c.servers(user="kfreezed")
        watcher, operator = c.servers(user="watcher"), c.servers(user="operator")
        nats_cfg = {"nats": {"replicas": 3}}
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        with Daemon(args.kfreezed, args.kfreeze, tmp / "a", [f"name=vm,ram={ga.ram},qmp={ga.qmp}"],
                    config=nats_cfg, extra_args=["--nats", daemon_urls, "--host", "hostA"]) as da, \
                Daemon(args.kfreezed, args.kfreeze, tmp / "b", [f"name=idle,ram={gb.ram},qmp={gb.qmp}"],
                       config=nats_cfg, extra_args=["--nats", daemon_urls, "--host", "hostB"]) as db:
            da.wait_attached("vm")
            db.wait_attached("idle")
            watch = FleetWatch(args.kfreeze, watcher)
            time.sleep(1.0)  # the watch's consumer exists before the first dump

            # Targets of the whole fleet, as a watcher.
            r = kf(args, "targets", "--nats", watcher, "--json")
            check(r.returncode == 0, f"targets --nats: {r.stderr}")
            hosts = {h["host"]: [t["name"] for t in h.get("targets", [])] for h in json.loads(r.stdout)["hosts"]}
            check(hosts == {"hostA": ["vm"], "hostB": ["idle"]}, f"fleet targets {hosts}")
            print(f"ok: targets --nats lists {hosts}")

            # Request-reply Freeze of each guest.
            frozen = {}
            for host, target in (("hostA", "vm"), ("hostB", "idle")):
                r = kf(args, "freeze", "--nats", operator, f"{host}/{target}", "--json", "--label", "via=nats")
                check(r.returncode == 0, f"freeze --nats {host}/{target}: rc {r.returncode} {r.stderr}")
                resp = json.loads(r.stdout)
                env = resp["envelope"]
                check(env["target"] == target and env["dump_id"] == resp["dump_id"],
                      f"{host}/{target}: envelope of {env.get('target')}/{env.get('dump_id')}")
                check(env.get("labels", {}).get("via") == "nats", f"labels {env.get('labels')}")
                check(any(k in env for k in ("single", "dual", "degraded")), "no report in the envelope")
                frozen[host] = resp["dump_id"]
            check(frozen["hostA"] in local_ids(da) and frozen["hostB"] in local_ids(db),
                  "the NATS freezes are not in the hosts' archives")
            print(f"ok: freeze --nats of both guests: {frozen}")

            # The fleet watch sees both, with host and target.
            watch.wait_for([("hostA", frozen["hostA"]), ("hostB", frozen["hostB"])], 30)
            with watch.lock:
                targets_seen = {(e["host"], e["target"]) for e in watch.events}
            check({("hostA", "vm"), ("hostB", "idle")} <= targets_seen, f"watch saw {targets_seen}")
            print("ok: the fleet watch saw both hosts' dumps with host and target")

            # get --nats returns what the host's GetDump returns.
            for host, d in (("hostA", da), ("hostB", db)):
                fleet = kf(args, "get", "--nats", watcher, f"{host}/{frozen[host]}", "--json")
                check(fleet.returncode == 0, f"get --nats: {fleet.stderr}")
                local = d.cli("get", frozen[host], "--json")
                check(fleet.stdout == local.stdout,
                      f"{host}: get --nats ({len(fleet.stdout)} bytes) differs from GetDump ({len(local.stdout)})")
                blob = (d.dir / "archive" / "dumps" / f"{frozen[host]}.binpb").read_bytes()
                print(f"ok: get --nats {host}/{frozen[host]} == GetDump ({len(blob)} bytes binary)")

            # The watcher may not freeze: refused by NATS, nothing taken.
            before = len(local_ids(da))
            r = kf(args, "freeze", "--nats", watcher, "hostA/vm", timeout=60)
            check(r.returncode != 0 and "PERMISSION_DENIED" in r.stderr,
                  f"watcher freeze: rc {r.returncode} {r.stderr.strip()}")
            # ... nor through a reply the server sends on its behalf to a forged reply subject.
            user, pw = c.creds("watcher")
            w = Wire.tcp(int(c.url(1).rsplit(":", 1)[1]), user, pw)
            w.pub("kfreeze.targets.hostA", reply="kfreeze.freeze.hostA.vm")
            w.flush()
            w.close()
            time.sleep(2)
            check(len(local_ids(da)) == before, "a watcher got a dump taken")
            print(f"ok: the watcher is refused ({r.stderr.strip()[:120]}), and a forged reply takes no dump")

            # One node down mid-run: the stream's leader.
            leader = stream_leader(c) or 2
            c.stop_node(leader)
            mid = [da.freeze("vm")["dump_id"] for _ in range(2)] + [db.freeze("idle")["dump_id"]]
            time.sleep(2)
            c.start_node(leader)
            wanted = [("hostA", i) for i in mid[:2]] + [("hostB", mid[2])]
            watch.wait_for(wanted, BACKLOG_TIMEOUT)
            print(f"ok: node n{leader} (the stream leader) stopped mid-run: {mid} arrived")

            # The whole cluster down: 5 dumps, then back.
            c.stop()
            five = [da.freeze("vm", "--label", f"n={i}")["dump_id"] for i in range(5)]
            c.start()
            watch.stop()  # a fresh reader replays the stream from its start: the order is checked there
            replay = FleetWatch(args.kfreeze, watcher, "--all", "--host", "hostA")
            seen = replay.wait_for([("hostA", i) for i in five], BACKLOG_TIMEOUT)
            replay.stop()
            every = [i for h, i in seen if h == "hostA"]
            check(len(every) == len(set(every)), f"a dump arrived twice: {every}")
            order = [i for i in every if i in five]
            check(order == five, f"the 5 dumps arrived as {order}, taken as {five}")
            check(every[-5:] == five, f"dumps after the 5: {every}")
            for i in mid[:2] + [frozen["hostA"]]:
                check(every.count(i) == 1, f"{i} is {every.count(i)} times in the stream")
            print(f"ok: cluster stopped, 5 dumps taken, cluster started: all arrived once, in order {five}")
            for d in (da, db):
                check(d.proc.poll() is None, f"kfreezed died: {d.log_tail()}")
        check(da.proc.returncode == 0 and db.proc.returncode == 0,
              f"kfreezed exit status {da.proc.returncode}, {db.proc.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
