#!/usr/bin/python3
"""The dashboard's fleet view in headless Chromium (puppeteer-core from tests/browser's lockfile,
Debian's `chromium`), with no lab guest: a 3-node NATS JetStream cluster with a websocket listener
(tests/support/nats_cluster.py), a kfreezed on it (`--nats`, `--host hostA`, `--http` on loopback,
the config's nats.websocket_url), and dump events this script publishes as user kfreezed on
kfreeze.dumps.<host>.<target> with the Kfreeze-* headers kfreezed sets (raw NATS protocol), one of
them with a dump body in the bucket. tests/browser/fleet_check.mjs drives the page:
  - the header links the fleet view (/api/v1/fleet says enabled);
  - the view asks for credentials, then with watcher's shows every event published before it
    opened, newest first, with its host, target, id and headers' columns;
  - an event published while it is open comes on top within 5 s;
  - when the node of the websocket listener stops, the view says so; once it is back, the view
    reconnects and goes on from where it was (the next event on top, none twice);
  - a host filter (a name with a dot: an escaped subject token) shows that host's events only;
  - after a reload it reconnects from sessionStorage (nothing in localStorage);
  - a row opens /api/v1/fleet/dumps/<host>/<id> in the dump page: the dump whose body is in the
    bucket renders; the others say why not;
  - a wrong password shows an authorization error.
Screenshots go to --shots. Takes about 15 s.

Usage: dashboard_fleet_e2e.py --kfreezed BIN --browser-dir tests/browser
                              --npm-prefix BUILD/browser-npm --shots BUILD/test-artifacts/dashboard
"""

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from dashboard_e2e import CHROMIUM, ensure_puppeteer  # noqa: E402
from e2e_common import check, outcome  # noqa: E402
from nats_cluster import BUCKET, OBJECT_STREAM, STREAM, NatsCluster  # noqa: E402
from nats_cluster_selftest import Failure as WireFailure, Wire  # noqa: E402
from server_support import Daemon  # noqa: E402

HOST = "hostA"  # the kfreezed's own fleet name
OTHER = "ci-07.lab"  # subject token ci-07%2Elab
# Published before the page opens, oldest first: (host, target, dump id, exit kind).
EVENTS = [(HOST, "vm0", "vm0-000001", 0), (OTHER, "stall", "stall-000001", 1026),
          (HOST, "vm0", "vm0-000002", 0), (OTHER, "stall", "stall-000002", 0),
          ("host-b", "vm7", "vm7-000001", 1024)]
LIVE = (OTHER, "stall", "stall-000003", 1026)  # while the page is open
AFTER_OUTAGE = (HOST, "vm0", "vm0-000003", 0)  # once the websocket node is back
WITH_BODY = EVENTS[2]  # its envelope is in the bucket: its page renders


def token(name):
    """fleet/subjects.h's escaping: bytes outside [A-Za-z0-9_-] become %XX."""
    return "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "_-")
                   else f"%{b:02X}" for b in name.encode())


def js_call(wire, what, timeout, call):
    """call()'s JSON reply once it is not an error: JetStream may not answer while a cluster
    forms or a stream's node restarts (no reply, an empty status reply, or an error)."""
    deadline = time.time() + timeout
    while True:
        try:
            reply = call()
        except (WireFailure, ValueError) as e:  # no reply; a status reply without JSON
            reply = {"error": str(e)}
        if "error" not in reply:
            return reply
        check(time.time() < deadline, f"{what}: {reply['error']}")
        time.sleep(0.3)


def publish_event(wire, host, target, dump_id, exit_kind, n):
    headers = {
        "Nats-Msg-Id": f"{host}/{dump_id}", "Kfreeze-Host": host, "Kfreeze-Target": target,
        "Kfreeze-Dump-Id": dump_id, "Kfreeze-Object": f"{host}/{dump_id}",
        "Kfreeze-Schema": "dual" if exit_kind else "single",
        "Kfreeze-Captured-At": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "Kfreeze-Trigger": "TRIGGER_AUTO_LATE" if exit_kind else "TRIGGER_RPC",
        "Kfreeze-Exit-Kind": str(exit_kind), "Kfreeze-Scheduler": "scx_lab" if exit_kind else "",
        "Kfreeze-Summary": f"maps=4 tasks={60 + n} cpus=2",
    }
    subject = f"kfreeze.dumps.{token(host)}.{token(target)}"
    return js_call(wire, f"publish {dump_id}", 30,
                   lambda: wire.request(subject, b"<DumpEvent>", headers=headers).json())["seq"]


def proto_string(field, s):
    data = s.encode()
    return bytes([field << 3 | 2, len(data)]) + data


def put_envelope(wire, host, target, dump_id):
    """A DumpEnvelope (dump_id, target, kernel_release, an empty single report) stored as object
    <host>/<dump_id> the way fleet/object_store.cc stores it (NATS ADR-20: one chunk, then the
    meta rolled up on its subject)."""
    body = (proto_string(1, dump_id) + proto_string(2, target) + proto_string(8, "6.99.0-fleet")
            + bytes([10 << 3 | 2, 0]))
    name = f"{host}/{dump_id}"
    nuid = hashlib.sha1(name.encode()).hexdigest()[:22]
    js_call(wire, f"chunk of {name}", 30, lambda: wire.request(f"$O.{BUCKET}.C.{nuid}", body).json())
    meta = {"name": name, "bucket": BUCKET, "nuid": nuid, "size": len(body), "chunks": 1,
            "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "options": {"max_chunk_size": 128 * 1024},
            "digest": "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()}
    subject = f"$O.{BUCKET}.M.{base64.urlsafe_b64encode(name.encode()).decode()}"
    js_call(wire, f"meta of {name}", 30,
            lambda: wire.request(subject, json.dumps(meta), headers={"Nats-Rollup": "sub"}).json())


def wait_streams(wire, timeout=30):
    """kfreezed creates the stream and the bucket's stream at start-up."""
    for stream in (STREAM, OBJECT_STREAM):
        js_call(wire, f"stream {stream}, which kfreezed creates", timeout,
                lambda: wire.js(f"STREAM.INFO.{stream}"))


class Browser:
    """fleet_check.mjs running, its JSON lines read as they come (it waits for our answers)."""

    def __init__(self, script, base, shots, config, timeout=180):
        self.proc = subprocess.Popen(["node", str(script), base, str(shots), json.dumps(config)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "CHROMIUM": CHROMIUM})
        self.timer = threading.Timer(timeout, self.proc.kill)
        self.timer.start()

    def next(self):
        """Its next JSON line; None when it ended without one."""
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        return None

    def say(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self):
        self.timer.cancel()
        if self.proc.poll() is None:
            self.proc.kill()
        err = self.proc.stderr.read()
        self.proc.wait()
        return err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kfreezed", required=True)
    ap.add_argument("--browser-dir", required=True, type=Path)
    ap.add_argument("--npm-prefix", required=True, type=Path)
    ap.add_argument("--shots", required=True, type=Path)
    args = ap.parse_args()
    return outcome(lambda: run(args))


def run(args):
    t0 = time.monotonic()
    check(Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: deploy/install-deps.sh installs Debian's chromium")
    ensure_puppeteer(args.browser_dir, args.npm_prefix)
    script = args.npm_prefix / "fleet_check.mjs"
    shutil.copy(args.browser_dir / "fleet_check.mjs", script)
    args.shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kfd-fleet-") as tmp, \
            NatsCluster(Path(tmp) / "nats", websocket=True) as cluster:
        config = {"nats": {"websocket_url": cluster.ws_url(), "replicas": 3}}
        with Daemon(args.kfreezed, None, Path(tmp), [], config=config,
                    extra_args=["--nats", cluster.servers("kfreezed"), "--host", HOST,
                                "--http", "127.0.0.1:0"]) as d:
            wire = Wire.tcp(cluster.client_ports[1], *cluster.creds("kfreezed"))
            try:
                wait_streams(wire)
                line = d.wait_log_line("http: serving", timeout=30)
                m = re.search(r"http: serving (127\.0\.0\.1:\d+)", line or "")
                check(m, f"kfreezed logged no HTTP address:\n{d.log_tail(2000)}")
                base = f"http://{m.group(1)}"
                seqs = {e[2]: publish_event(wire, *e, n) for n, e in enumerate(EVENTS)}
                put_envelope(wire, *WITH_BODY[:3])
                print(f"cluster, kfreezed and {len(EVENTS)} events in {time.monotonic() - t0:.1f} s",
                      flush=True)
                found = drive(script, base, args.shots, cluster, wire)
            finally:
                wire.close()
            judge(found, seqs)
            print(f"browser checks in {found['elapsed']:.1f} s, live event after {found['live_ms']} ms; "
                  f"total {time.monotonic() - t0:.1f} s", flush=True)


def drive(script, base, shots, cluster, wire):
    """fleet_check.mjs against `base`, answering what it awaits; its findings."""
    user, password = cluster.creds("watcher")
    config = {"user": user, "password": password, "rows": len(EVENTS), "filter_host": OTHER,
              "filter_rows": sum(e[0] == OTHER for e in EVENTS) + 1, "body_dump": WITH_BODY[2]}

    def live():
        publish_event(wire, *LIVE, len(EVENTS))
        return LIVE[2]

    def outage():
        cluster.stop_node(1)  # the websocket listener's node
        return "stopped"

    def restore():
        cluster.start_node(1)
        publish_event(wire, *AFTER_OUTAGE, len(EVENTS) + 1)
        return AFTER_OUTAGE[2]

    answers = {"live": live, "outage": outage, "restore": restore}
    t = time.monotonic()
    browser = Browser(script, base, shots, config)
    try:
        msg = browser.next()
        while msg and msg.get("await") in answers:
            browser.say(answers[msg["await"]]())
            msg = browser.next()
    finally:
        err = browser.close()
    check(msg, f"fleet_check.mjs gave no findings; stderr: {err.strip()[-1500:]}")
    print(json.dumps(msg), flush=True)
    check("failure" not in msg, f"fleet_check: {msg.get('failure')} (errors {msg.get('errors')})")
    msg["elapsed"] = time.monotonic() - t
    return msg


def judge(f, seqs):
    ids = lambda rows: [r["dump"] for r in rows]  # noqa: E731
    check(f["first"]["state"] == "credentials needed",
          f"without credentials the view says {f['first']}, not that it needs some")
    check(f["login"]["state"] == "live", f"with watcher's credentials: {f['login']}")
    newest_first = [e[2] for e in reversed(EVENTS)]
    check(ids(f["history"]) == newest_first,
          f"rows before the live event: {ids(f['history'])}, want {newest_first}")
    top = f["history"][0]
    host, target, dump_id, exit_kind = EVENTS[-1]
    check((top["host"], top["target"], top["seq"]) == (host, target, seqs[dump_id]),
          f"top row {top}")
    check(top["cells"][:3] == [host, target, dump_id] and "ERROR" in top["cells"][6] and
          top["cells"][8].startswith("maps=4"), f"top row's columns {top['cells']}")
    check(ids(f["live_rows"]) == [LIVE[2]] + newest_first,
          f"rows after the live event: {ids(f['live_rows'])}")
    check(f["live_ms"] <= 5000, f"the live event showed after {f['live_ms']} ms")
    check(f["live_status"]["state"] == "live", f"status with the live event: {f['live_status']}")
    check(f["outage"]["state"] in ("reconnecting", "error"),
          f"with the websocket node stopped the view says {f['outage']}")
    check(f["restore_status"]["state"] == "live" and
          ids(f["restore_rows"]) == [AFTER_OUTAGE[2], LIVE[2]] + newest_first,
          f"after the node came back: {f['restore_status']}, rows {ids(f['restore_rows'])}")
    want = [LIVE[2]] + [e[2] for e in reversed(EVENTS) if e[0] == OTHER]
    check(f["filter_status"]["state"] == "live" and ids(f["filter_rows"]) == want and
          all(r["host"] == OTHER for r in f["filter_rows"]),
          f"host filter {OTHER}: {f['filter_status']}, rows {ids(f['filter_rows'])}, want {want}")
    check(f["reload"]["state"] == "live", f"after a reload (sessionStorage): {f['reload']}")
    check(f["storage"]["session"] and not f["storage"]["local"], f"storage: {f['storage']}")
    click = f["click"]
    row = click["row"]
    want_hash = f"#/fleet/dump/{row['host']}/{row['dump']}"
    check(click["hash"] == want_hash and click["crumb_host"] == row["host"],
          f"clicking {row['dump']}: {click}, want {want_hash}")
    check(click["fleet_closed"], "the fleet view's connection outlived the route")
    # The top row after the reload is the live event, which has no body in the bucket.
    check(click["loaded"] is None and click["error"] and "404" in click["error"],
          f"the page of a dump whose body is not in the bucket: {click}")
    body = f["body"]
    check(body["loaded"] == WITH_BODY[2] and WITH_BODY[1] in body["header"] and
          "6.99.0-fleet" in body["header"], f"the page of {WITH_BODY[2]} (body in the bucket): {body}")
    check(f["wrong_password"]["state"] == "error" and
          "authorization" in f["wrong_password"]["text"].lower(),
          f"a wrong password shows {f['wrong_password']}, not an authorization error")
    # The browser logs failed fetches and websockets: a missing dump's 404, and the websocket
    # refused while its node is down.
    unexpected = [e for e in f["errors"]
                  if not (e[0] == "click" and "status of 404" in e[1]) and
                  not (e[0] in ("outage", "restore") and "WebSocket connection" in e[1])]
    check(not unexpected, f"the page logged errors: {unexpected}")


if __name__ == "__main__":
    sys.exit(main())
