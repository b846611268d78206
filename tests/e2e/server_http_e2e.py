#!/usr/bin/python3
"""kfreezed's HTTP side against a real guest: the event stream, the JSON API and /metrics.

Against a scx-running lab guest, kfreezed serves `--http` on loopback TCP (port 0, read from its
log) and on a unix socket whose clients the config grants `freeze` (transport http_unix):
  - two event streams are open (/api/v1/events, one filtered for RPC freezes with a field mask,
    one for late auto-triggers only); a Freeze through the gRPC CLI reaches the first within 2 s,
    trimmed to the masked fields, and never reaches the second;
  - POST /api/v1/targets/vm:freeze on the unix socket freezes the guest; GET /api/v1/dumps/{id}
    returns the same envelope as the gRPC GetDump (`kfreeze get --json`);
  - /metrics parses as Prometheus text format, and kfreeze_dumps_total for the guest grew by the
    freezes taken.

Usage: server_http_e2e.py --kfreezed ... --kfreeze ...
"""

import http.client
import json
import re
import socket
import sys
import tempfile
import threading
import time

from e2e_common import Failure, arg_parser, check, labclient, outcome
from server_support import Daemon

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)( -?[0-9]+)?$')
COMMENT = re.compile(r'^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$')


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(conn, method, path, body=None):
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    data = resp.read().decode()
    conn.close()
    return resp.status, data


class EventStream:
    """/api/v1/events read on a thread: the SSE events as (id, data JSON, arrival time)."""

    def __init__(self, host, port, query):
        self.events, self.lines, self.live = [], [], threading.Event()
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.conn.request("GET", "/api/v1/events?" + query)
        self.resp = self.conn.getresponse()
        if self.resp.status != 200:
            raise Failure(f"events {query}: HTTP {self.resp.status} {self.resp.read()[:300]!r}")
        check("text/event-stream" in self.resp.getheader("Content-Type", ""), "not an event stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        event_id, data = None, []
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                self.lines.append(line)
                if line == ": live":
                    self.live.set()
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and event_id is not None:
                    self.events.append((event_id, json.loads("\n".join(data)), time.monotonic()))
                    event_id, data = None, []
        except (OSError, ValueError):
            pass

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    ap = arg_parser(__doc__, "e2e-server-http", "kfreezed", "kfreeze")
    args = ap.parse_args()
    return outcome(lambda: run(args))


def run(args):
    with labclient.guest(args.name, "scx-running") as g, tempfile.TemporaryDirectory(prefix="kfd-http-") as tmp:
        http_sock = f"{tmp}/http.sock"
        # With grants, a peer no grant names gets nothing: loopback TCP (the browser side) reads.
        config = {"roles": [{"role": "freeze", "any_peer_on": ["http_unix", "unix"]},
                            {"role": "read", "any_peer_on": ["insecure_tcp"]}]}
        extra = ["--http", "127.0.0.1:0", "--http", f"unix:{http_sock}"]
        with Daemon(args.kfreezed, args.kfreeze, tmp, [f"name=vm,ram={g.ram},qmp={g.qmp}"],
                    config=config, extra_args=extra) as d:
            state = {}

            def tcp_port():
                deadline = time.time() + 30
                while time.time() < deadline:
                    m = re.search(r"http: serving 127\.0\.0\.1:(\d+)", d.log_text())
                    if m:
                        return int(m.group(1))
                    time.sleep(0.05)
                raise Failure("kfreezed never logged its HTTP port")

            def stream_sees_a_freeze_within_2s():
                d.wait_attached("vm")
                port = state["port"] = tcp_port()
                rpc = EventStream("127.0.0.1", port, "target=vm&trigger=rpc&fields=summary.dump_id,summary.target")
                late = EventStream("127.0.0.1", port, "target=vm&trigger=late")
                try:
                    check(rpc.live.wait(10) and late.live.wait(10), "streams never went live")
                    asked = time.monotonic()
                    out = d.freeze("vm")
                    done = time.monotonic()
                    dump_id = out.get("dump_id") or out.get("dumpId")
                    while time.monotonic() < done + 10 and not rpc.events:
                        time.sleep(0.01)
                    check(rpc.events, f"no event; lines: {rpc.lines[-10:]}")
                    event_id, event, arrived = rpc.events[0]
                    check(event_id == dump_id, f"event {event_id}, freeze {dump_id}")
                    check(arrived - asked <= 2.0, f"event came {arrived - asked:.2f} s after the Freeze")
                    check(set(event) == {"summary"}, f"mask kept {sorted(event)}")
                    check(set(event["summary"]) <= {"dump_id", "target"}, f"summary {event['summary']}")
                    time.sleep(0.5)
                    check(not late.events, f"the late-only stream got {late.events}")
                    print(f"event arrived {1000 * (arrived - asked):.1f} ms after the Freeze was asked for "
                          f"(the CLI's reply came at {1000 * (done - asked):.1f} ms)", flush=True)
                finally:
                    rpc.close()
                    late.close()

            def unix_freeze_and_get_dump_match_grpc():
                status, body = request(UnixHTTPConnection(http_sock), "POST", "/api/v1/targets/vm:freeze",
                                       json.dumps({"labels": {"client": "http"}, "deadline_ms": 3000}))
                check(status == 200, f"freeze over HTTP: {status} {body[:300]}")
                frozen = json.loads(body)
                check("single" in frozen["envelope"], f"not single: {list(frozen['envelope'])}")
                dump_id = frozen["dump_id"]
                status, body = request(http.client.HTTPConnection("127.0.0.1", state["port"]), "GET",
                                       f"/api/v1/dumps/{dump_id}")
                check(status == 200, f"GET dump: {status}")
                over_http = json.loads(body)["envelope"]
                over_grpc = json.loads(d.cli("get", dump_id, "--json").stdout)
                over_grpc = over_grpc.get("envelope", over_grpc)
                check(over_http == over_grpc, "the HTTP dump differs from GetDump's")
                check(over_http["labels"] == {"client": "http"}, f"labels {over_http.get('labels')}")

            def metrics_parse_and_move():
                conn = lambda: http.client.HTTPConnection("127.0.0.1", state["port"])
                _, before = request(conn(), "GET", "/metrics")
                d.freeze("vm")
                status, after = request(conn(), "GET", "/metrics")
                check(status == 200, f"/metrics: {status}")
                bad = [l for l in after.splitlines() if l and not (SAMPLE.match(l) or COMMENT.match(l))]
                check(not bad, f"not Prometheus text format: {bad[:5]}")
                key = dict(schema="single", target="vm", trigger="rpc")
                grew = metric(after, "kfreeze_dumps_total", **key) - metric(before, "kfreeze_dumps_total", **key)
                check(grew == 1, f"kfreeze_dumps_total grew by {grew}")
                calls = metric(after, "kfreeze_freeze_call_seconds_count", code="OK", target="vm")
                check(calls >= 3, f"freeze calls counted: {calls}")
                check(metric(after, "kfreeze_archive_dumps") >= 3, "archive level")
                check(metric(after, "kfreeze_freeze_window_seconds_count", target="vm") >= 3, "windows")

            return d.run_checks([
                ("the event stream shows a Freeze within 2 s, filtered and masked", stream_sees_a_freeze_within_2s),
                ("freeze over the unix socket; the JSON API returns GetDump's dump", unix_freeze_and_get_dump_match_grpc),
                ("/metrics parses and its counters move after a Freeze", metrics_parse_and_move),
            ])


if __name__ == "__main__":
    sys.exit(main())
