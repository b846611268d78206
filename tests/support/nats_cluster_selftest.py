#!/usr/bin/python3
"""Proves tests/support/nats_cluster.py and the fleet's NATS permissions (docs/design/fleet.md §5)
against a real 3-node nats-server cluster, with nothing but the stdlib: a raw NATS text-protocol
client (CONNECT, SUB, PUB/HPUB, PING/PONG, -ERR) over TCP and over a websocket.

  - the cluster forms (3 nodes, one meta leader), loses node 2 and keeps a leader and a working
    R3 stream, takes node 2 back, and after a full stop and start forms again with its streams;
  - kfreezed subscribes to freeze and targets requests, answers them once (allow_responses),
    creates the stream and the object store's stream and publishes to them, deduplicated by
    Nats-Msg-Id; it cannot ask another host to freeze;
  - watcher reads: stream info, message get, direct get (the object store's meta lookup), ordered
    push consumers in both create forms, their deletion, acks and flow-control replies, targets
    requests; it cannot publish kfreeze.freeze.>, write or delete streams, or subscribe outside
    _INBOX.>; operator may publish kfreeze.freeze.>;
  - the websocket listener on node 1 takes watcher and operator with the same grants;
  - deploy/nats/accounts.conf names the same subjects and grants the same (its placeholder
    passwords used as they are).
It also prints, without judging, what a watcher can make the server publish on a freeze subject
(probe_reply_subjects). Each phase prints its time; the run takes 15-20 s, most of it the meta
leader election after the full restart.

Usage: nats_cluster_selftest.py [--workdir DIR] [--keep]
"""

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nats_cluster import BUCKET, OBJECT_STREAM, PERMISSIONS, STREAM, NatsCluster  # noqa: E402

DEPLOY_ACCOUNTS = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "accounts.conf"
HOST = "ci-07%2Elab"  # an escaped host token, as fleet/subjects.h builds them
FREEZE = f"kfreeze.freeze.{HOST}.vm0"


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---- the raw NATS protocol --------------------------------------------------------------------

class Msg:
    def __init__(self, subject, sid, reply, headers, payload):
        self.subject, self.sid, self.reply = subject, sid, reply
        self.headers, self.payload = headers, payload

    def json(self):
        return json.loads(self.payload)

    def __repr__(self):
        return (f"MSG {self.subject} sid={self.sid} reply={self.reply} {self.headers} "
                f"{self.payload[:200]!r}")


class Err(str):
    """A -ERR line's text."""


class WebSocket:
    """Enough of RFC 6455 for a NATS client: one HTTP upgrade, masked binary frames out, and the
    server's frames in as a byte stream (sendall/recv like a socket)."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            check(chunk, "websocket: connection closed during the upgrade")
            head += chunk
        head, self.pending = head.split(b"\r\n\r\n", 1)
        check(head.startswith(b"HTTP/1.1 101"), f"websocket upgrade refused: {head[:200]!r}")
        self.data = b""

    def settimeout(self, t):
        self.sock.settimeout(t)

    def sendall(self, data):
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else
                               bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 65536 else
                               bytes([0x80 | 127]) + n.to_bytes(8, "big"))
        self.sock.sendall(hdr + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(data)))

    def _raw(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("websocket closed")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def recv(self, _n):
        b0, b1 = self._raw(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(self._raw(2), "big")
        elif n == 127:
            n = int.from_bytes(self._raw(8), "big")
        payload = self._raw(n)
        if b0 & 0x0F == 8:
            return b""  # close frame
        return payload

    def close(self):
        self.sock.close()


class Wire:
    """One NATS client connection speaking the text protocol. Every server line lands in
    `self.inbox` (Msg or Err) in arrival order. flush() reads up to the PONG of a PING, so the
    -ERR caused by an earlier PUB or SUB is in the inbox after it (the server answers in order)."""

    def __init__(self, transport, user=None, password=None, timeout=5.0):
        self.t = transport
        self.timeout = timeout
        self.buf = b""
        self.inbox = []
        self._sid = 0
        line = self._line(time.monotonic() + timeout)
        check(line.startswith("INFO "), f"expected INFO, got {line!r}")
        self.info = json.loads(line[5:])
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                   "protocol": 1, "lang": "python-selftest", "version": "0"}
        if user is not None:
            connect.update({"user": user, "pass": password})
        # CONNECT and PING in one write: a refused client is closed right after its -ERR, and a
        # PING arriving after that would draw a reset that can discard the -ERR unread.
        self._send(f"CONNECT {json.dumps(connect)}\r\nPING\r\n")
        deadline = time.monotonic() + timeout
        try:
            while not self._read_one(deadline):
                pass
        except (ConnectionError, TimeoutError) as e:
            errors = [x for x in self.inbox if isinstance(x, Err)]
            raise ConnectionRefusedError(errors[0] if errors else str(e)) from None

    @classmethod
    def tcp(cls, port, user=None, password=None, timeout=5.0):
        return cls(socket.create_connection(("127.0.0.1", port), timeout), user, password, timeout)

    @classmethod
    def ws(cls, port, user=None, password=None, timeout=5.0):
        return cls(WebSocket(port, timeout), user, password, timeout)

    def close(self):
        with contextlib.suppress(OSError):
            (self.t.sock if isinstance(self.t, WebSocket) else self.t).close()

    # -- sending
    def _send(self, text, payload=None):
        data = text.encode() if isinstance(text, str) else text
        if payload is not None:
            data += payload + b"\r\n"
        self.t.sendall(data)

    def sub(self, subject):
        """SUB subject; its sid."""
        self._sid += 1
        self._send(f"SUB {subject} {self._sid}\r\n")
        return str(self._sid)

    def pub(self, subject, payload=b"", reply=None, headers=None):
        if isinstance(payload, str):
            payload = payload.encode()
        r = f" {reply}" if reply else ""
        if headers:
            hdr = ("NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                   + "\r\n").encode()
            self._send(f"HPUB {subject}{r} {len(hdr)} {len(hdr) + len(payload)}\r\n", hdr + payload)
        else:
            self._send(f"PUB {subject}{r} {len(payload)}\r\n", payload)

    # -- receiving
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from nats-server")
        self.t.settimeout(left)
        try:
            chunk = self.t.recv(65536)
        except socket.timeout:
            raise TimeoutError("no answer from nats-server") from None
        if not chunk:
            raise ConnectionError(f"connection closed by nats-server; inbox {self.inbox}")
        self.buf += chunk

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def _exact(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _read_one(self, deadline):
        """Reads one server line (and its payload); True when it was a PONG."""
        line = self._line(deadline)
        op, _, rest = line.partition(" ")
        if op == "PONG":
            return True
        if op == "PING":
            self._send("PONG\r\n")
        elif op == "-ERR":
            self.inbox.append(Err(rest.strip("'")))
        elif op in ("MSG", "HMSG"):
            f = rest.split()
            headers = None
            if op == "MSG":
                subject, sid, size = f[0], f[1], int(f[-1])
                reply = f[2] if len(f) == 4 else None
                payload = self._exact(size, deadline)
            else:
                subject, sid, hsize, size = f[0], f[1], int(f[-2]), int(f[-1])
                reply = f[2] if len(f) == 5 else None
                raw = self._exact(size, deadline)
                headers = self._headers(raw[:hsize])
                payload = raw[hsize:]
            self.inbox.append(Msg(subject, sid, reply, headers, payload))
        return False  # INFO updates, +OK

    @staticmethod
    def _headers(raw):
        lines = raw.decode().split("\r\n")
        h = {"": lines[0]}  # the status line, e.g. "NATS/1.0 100 Idle Heartbeat"
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                h[k.strip()] = v.strip()
        return h

    def flush(self):
        """PING, and reads to the PONG: whatever the server sent before it is in the inbox."""
        self._send("PING\r\n")
        deadline = time.monotonic() + self.timeout
        while not self._read_one(deadline):
            pass

    def _take(self, keep):
        self.flush()
        out = [e for e in self.inbox if keep(e)]
        self.inbox = [e for e in self.inbox if not keep(e)]
        return out

    def errors(self):
        """The -ERRs received so far (taken from the inbox; messages stay)."""
        return self._take(lambda e: isinstance(e, Err))

    def next_msg(self, sid, timeout=None):
        """The next message on subscription `sid` (others stay in the inbox)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for k, m in enumerate(self.inbox):
                if isinstance(m, Msg) and m.sid == sid:
                    del self.inbox[k]
                    return m
            self._read_one(deadline)

    def msgs(self, *sids):
        """The messages received so far on subscriptions `sids` (taken from the inbox)."""
        return self._take(lambda e: isinstance(e, Msg) and e.sid in sids)

    def request(self, subject, payload=b"", headers=None, timeout=None):
        """A request answered on a fresh _INBOX subject; the reply Msg."""
        inbox = f"_INBOX.selftest.{os.urandom(6).hex()}"
        sid = self.sub(inbox)
        self.pub(subject, payload, reply=inbox, headers=headers)
        try:
            return self.next_msg(sid, timeout)
        except TimeoutError:
            errs = [e for e in self.inbox if isinstance(e, Err)]
            raise Failure(f"{subject}: no reply; the server said {errs or 'nothing'}") from None
        finally:
            self._send(f"UNSUB {sid}\r\n")

    def js(self, api, body=None, timeout=None):
        """A JetStream API call ($JS.API.<api>): the decoded JSON reply."""
        payload = json.dumps(body).encode() if body is not None else b""
        m = self.request(f"$JS.API.{api}", payload, timeout=timeout)
        check(m.payload, f"$JS.API.{api}: empty reply {m.headers}")
        return m.json()


def refused(wire, action):
    """The Permissions Violation -ERRs the server sent for what was just sent."""
    errs = wire.errors()
    check(errs and all("Permissions Violation" in e for e in errs),
          f"{action}: expected a Permissions Violation, got {errs or 'none'}")
    return errs


def allowed(wire, action):
    errs = wire.errors()
    check(not errs, f"{action}: {errs}")


def js_ok(reply, action):
    check("error" not in reply, f"{action}: {reply.get('error')}")
    return reply


# ---- phases -----------------------------------------------------------------------------------

@contextlib.contextmanager
def phase(name, timings):
    t = time.monotonic()
    yield
    timings.append((name, time.monotonic() - t))
    print(f"  ok  {time.monotonic() - t:6.2f}s  {name}", flush=True)


def connect(c, node, user, ws=False):
    user_, pw = c.creds(user)
    port = c.ws_port if ws else c.client_ports[node - 1]
    return (Wire.ws if ws else Wire.tcp)(port, user_, pw)


def check_formed(c, nodes):
    leader = c.wait_ready(nodes=nodes, timeout=30)
    check(leader, "no meta leader")
    for i in nodes:
        meta = c.jsz(i).get("meta_cluster") or {}
        check(meta.get("cluster_size") == c.n, f"n{i}: cluster_size {meta.get('cluster_size')}")
        check(meta.get("leader") == leader, f"n{i}: leader {meta.get('leader')} != {leader}")
    return leader


def stream_config(name, subjects, **extra):
    return {"name": name, "subjects": subjects, "retention": "limits", "storage": "file",
            "num_replicas": 3, "discard": "old", "duplicate_window": 120 * 10**9,
            "max_age": 7 * 86400 * 10**9, "allow_direct": True, **extra}


def publish_event(d, seq_hint):
    """kfreezed's dump event: an HPUB with Nats-Msg-Id awaiting the stream's ack."""
    m = d.request(f"kfreeze.dumps.{HOST}.vm0", f"event {seq_hint}",
                  headers={"Nats-Msg-Id": f"{HOST}/{seq_hint}", "Kfreeze-Host": HOST})
    return js_ok(m.json(), f"publish event {seq_hint}")


def check_daemon(c):
    """kfreezed: creates the streams, publishes (deduplicated), serves and answers requests."""
    d = connect(c, 1, "kfreezed")
    op = connect(c, 3, "operator")
    w = connect(c, 2, "watcher")
    try:
        freeze_sid = d.sub("kfreeze.freeze.>")
        targets_sid = d.sub("kfreeze.targets")
        host_targets_sid = d.sub(f"kfreeze.targets.{HOST}")
        d.sub("_INBOX.>")
        allowed(d, "kfreezed SUB kfreeze.freeze.>, kfreeze.targets(.>), _INBOX.>")

        js_ok(d.js(f"STREAM.CREATE.{STREAM}", stream_config(STREAM, ["kfreeze.dumps.>"])),
              "kfreezed creates the dump stream")
        js_ok(d.js(f"STREAM.CREATE.{OBJECT_STREAM}",
                   stream_config(OBJECT_STREAM, [f"$O.{BUCKET}.C.>", f"$O.{BUCKET}.M.>"],
                                 discard="new", allow_rollup_hdrs=True)),
              "kfreezed creates the object store's stream")
        ack = publish_event(d, 1)
        check(ack.get("stream") == STREAM and ack.get("seq") == 1, f"first ack {ack}")
        dup = publish_event(d, 1)
        check(dup.get("duplicate") is True and dup.get("seq") == 1,
              f"same Nats-Msg-Id again: {dup}")
        # An object the ADR-20 way: a chunk, then its meta rolled up on its subject.
        js_ok(d.request(f"$O.{BUCKET}.C.nuid1", b"body").json(), "chunk")
        meta = {"name": f"{HOST}/1", "bucket": BUCKET, "nuid": "nuid1", "size": 4, "chunks": 1}
        js_ok(d.request(f"$O.{BUCKET}.M.{meta_token(meta['name'])}", json.dumps(meta),
                        headers={"Nats-Rollup": "sub"}).json(), "meta")

        # operator -> freeze request -> kfreezed answers once, through allow_responses.
        op_inbox = "_INBOX.op.1"
        op_sid = op.sub(op_inbox)
        op.pub(FREEZE, b"", reply=op_inbox)
        allowed(op, "operator PUB kfreeze.freeze.>")
        req = d.next_msg(freeze_sid)
        check(req.subject == FREEZE and req.reply == op_inbox, f"kfreezed got {req}")
        d.pub(req.reply, b"frozen")
        allowed(d, "kfreezed replies to a freeze request")
        check(op.next_msg(op_sid).payload == b"frozen", "operator got no reply")
        d.pub(req.reply, b"again")
        refused(d, "kfreezed's second reply to one request (allow_responses: one each)")

        # watcher -> targets (every host, and one host) -> answered.
        for subject, sid in (("kfreeze.targets", targets_sid),
                             (f"kfreeze.targets.{HOST}", host_targets_sid)):
            w_inbox = f"_INBOX.w.{sid}"
            w_sid = w.sub(w_inbox)
            w.pub(subject, b"", reply=w_inbox)
            allowed(w, f"watcher PUB {subject}")
            req = d.next_msg(sid)
            d.pub(req.reply, b"targets", headers={"Kfreeze-Host": HOST})
            allowed(d, f"kfreezed replies to {subject}")
            check(w.next_msg(w_sid).payload == b"targets", f"watcher got no {subject} reply")

        d.pub("kfreeze.freeze.other.vm0", b"")
        refused(d, "kfreezed PUB kfreeze.freeze.> (a host never freezes another's VMs)")
        d.pub("kfreeze.elsewhere", b"")
        refused(d, "kfreezed PUB outside its grants")
        check(not d.msgs(freeze_sid), "a refused publish reached the freeze subscription")
    finally:
        for x in (d, op, w):
            x.close()


def meta_token(name):
    return base64.urlsafe_b64encode(name.encode()).decode()


def check_watcher(c, probe=True):
    """watcher: every read the fleet clients make, and no write."""
    d = connect(c, 1, "kfreezed")
    w = connect(c, 2, "watcher")
    try:
        freeze_sid = d.sub("kfreeze.freeze.>")
        allowed(d, "kfreezed SUB")

        w.pub(FREEZE, b"", reply="_INBOX.w.x")
        refused(w, "watcher PUB kfreeze.freeze.>")
        check(not d.msgs(freeze_sid), "the watcher's freeze request reached kfreezed")
        for sub in ("kfreeze.freeze.>", "kfreeze.dumps.>", ">"):
            w.sub(sub)
            refused(w, f"watcher SUB {sub}")
        for subject in (f"kfreeze.dumps.{HOST}.vm0", f"$O.{BUCKET}.C.x",
                        f"$JS.API.STREAM.DELETE.{STREAM}", f"$JS.API.STREAM.PURGE.{OBJECT_STREAM}",
                        f"$JS.API.STREAM.UPDATE.{STREAM}", f"$JS.API.STREAM.MSG.DELETE.{STREAM}",
                        "$JS.API.STREAM.CREATE.MINE",
                        f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.mine"):
            w.pub(subject, b"{}", reply="_INBOX.w.x")
            refused(w, f"watcher PUB {subject}")

        info = js_ok(w.js(f"STREAM.INFO.{STREAM}"), "watcher stream info")
        check(info["state"]["messages"] >= 1, f"stream info {info['state']}")
        js_ok(w.js(f"STREAM.INFO.{OBJECT_STREAM}"), "watcher bucket stream info")
        js_ok(w.js("INFO"), "watcher account info")
        names = js_ok(w.js("STREAM.NAMES", {"subject": "kfreeze.dumps.>"}), "watcher stream names")
        check(names.get("streams") == [STREAM], f"stream names {names}")
        got = js_ok(w.js(f"STREAM.MSG.GET.{STREAM}", {"seq": 1}), "watcher msg get")
        check(base64.b64decode(got["message"]["data"]) == b"event 1", f"msg get {got}")

        m = w.request(f"$JS.API.DIRECT.GET.{STREAM}", json.dumps({"seq": 1}))
        check(m.payload == b"event 1" and m.headers.get("Nats-Sequence") == "1", f"direct get {m}")
        meta_subject = f"$O.{BUCKET}.M.{meta_token(f'{HOST}/1')}"
        m = w.request(f"$JS.API.DIRECT.GET.{OBJECT_STREAM}.{meta_subject}")
        check(m.headers and m.headers.get("Nats-Subject") == meta_subject and
              json.loads(m.payload)["nuid"] == "nuid1", f"direct get of the object's meta: {m}")

        # Ordered push consumers, the way libnats 3.4 and nats.go create them on a 2.9 server:
        # the named, filtered form, and the older ephemeral form.
        for api, cfg_extra in (
                (f"CONSUMER.CREATE.{STREAM}.ord1.kfreeze.dumps.>",
                 {"name": "ord1", "filter_subject": "kfreeze.dumps.>"}),
                (f"CONSUMER.CREATE.{OBJECT_STREAM}.ord2.$O.{BUCKET}.C.nuid1",
                 {"name": "ord2", "filter_subject": f"$O.{BUCKET}.C.nuid1"}),
                (f"CONSUMER.CREATE.{STREAM}", {})):
            stream = api.split(".")[2]
            deliver = f"_INBOX.w.deliver.{os.urandom(4).hex()}"
            dsid = w.sub(deliver)
            cfg = {"deliver_subject": deliver, "deliver_policy": "all", "ack_policy": "none",
                   "max_deliver": 1, "flow_control": True, "idle_heartbeat": 5 * 10**9,
                   "mem_storage": True, "num_replicas": 1, "inactive_threshold": 5 * 10**9,
                   **cfg_extra}
            created = js_ok(w.js(api, {"stream_name": stream, "config": cfg}), f"watcher {api}")
            name = created["name"]
            first = w.next_msg(dsid)
            check(first.payload in (b"event 1", b"body"), f"{api}: delivered {first}")
            check(first.reply and first.reply.startswith(f"$JS.ACK.{stream}.{name}."),
                  f"{api}: ack subject {first.reply}")
            w.pub(first.reply, b"+ACK")
            w.pub(f"$JS.FC.{stream}.{name}.x1", b"")
            allowed(w, f"watcher acks and answers flow control on {stream}")
            js_ok(w.js(f"CONSUMER.INFO.{stream}.{name}"), f"watcher consumer info {name}")
            deleted = js_ok(w.js(f"CONSUMER.DELETE.{stream}.{name}"), f"watcher deletes {name}")
            check(deleted.get("success") is True, f"delete {name}: {deleted}")

    finally:
        d.close()
        w.close()
    if probe:
        probe_reply_subjects(c)


def probe_reply_subjects(c):
    """What reaches kfreezed's freeze subscriptions when a watcher aims a reply subject, or a push
    consumer's deliver subject, at kfreeze.freeze.<host>.<target>: kfreezed's own answer to a
    targets request (allow_responses lets it publish there), a JetStream API reply, and a push
    consumer's messages and idle heartbeats. The server publishes those outside the watcher's
    permissions. Printed, not asserted: kfreezed must act only on a request that has a reply
    subject outside $JS. and no status header (kfreezed and watcher both on n2: API replies reach
    subscribers on the requester's node)."""
    d = connect(c, 2, "kfreezed")
    w = connect(c, 2, "watcher")
    try:
        _probe(d, w)
    finally:
        d.close()
        w.close()


def _probe(d, w):
    subs = {d.sub(f"kfreeze.freeze.{HOST}.*"): f"kfreeze.freeze.{HOST}.*",
            d.sub(FREEZE): f"{FREEZE} (literal)"}
    targets_sid = d.sub("kfreeze.targets")
    allowed(d, "kfreezed SUB")

    def show(source):
        seen = {}
        for m in d.msgs(*subs):
            reply = m.reply.rsplit(".", m.reply.count(".") - 2)[0] + ".." if m.reply else "none"
            status = (m.headers or {}).get("", "").partition(" ")[2]
            key = (subs[m.sid], m.subject, reply, status, m.payload[:32])
            seen[key] = seen.get(key, 0) + 1
        print(f"      probe: {source}:" + ("" if seen else " nothing"))
        for (sub, subject, reply, status, payload), n in seen.items():
            print(f"        SUB {sub} got {n}x: subject {subject}, reply {reply}, "
                  f"status {status!r}, payload {payload!r}")

    w.pub("kfreeze.targets", b"", reply=FREEZE)
    allowed(w, "watcher asks for targets with its reply on a freeze subject")
    d.pub(d.next_msg(targets_sid).reply, b"<ListTargetsResponse>")
    allowed(d, "kfreezed answers on the reply subject it was given")
    time.sleep(0.1)
    show("kfreezed's answer to a targets request whose reply is a freeze subject")

    w.pub(f"$JS.API.STREAM.INFO.{STREAM}", b"", reply=FREEZE)
    allowed(w, "watcher STREAM.INFO with its reply on a freeze subject")
    time.sleep(0.2)
    show("a STREAM.INFO request whose reply is a freeze subject")

    created = w.js(f"CONSUMER.CREATE.{STREAM}", {"stream_name": STREAM, "config": {
        "deliver_subject": FREEZE, "deliver_policy": "all", "ack_policy": "none",
        "idle_heartbeat": 200 * 10**6, "inactive_threshold": 2 * 10**9}})
    time.sleep(0.6)
    show(f"a push consumer delivering to a freeze subject "
         f"({'refused: ' + str(created['error']) if 'error' in created else 'created'})")
    if "error" not in created:
        w.js(f"CONSUMER.DELETE.{STREAM}.{created['name']}")


def check_websocket(c):
    for user in ("watcher", "operator"):
        ws = connect(c, 1, user, ws=True)
        try:
            check(ws.info.get("server_name") == "n1", f"websocket INFO {ws.info}")
            ws.pub(FREEZE, b"")
            errs = ws.errors()
            check(bool(errs) == (user == "watcher"), f"{user} over websocket, PUB freeze: {errs}")
            js_ok(ws.js(f"STREAM.INFO.{STREAM}"), f"{user} stream info over websocket")
        finally:
            ws.close()


def check_auth(c):
    try:
        Wire.tcp(c.client_ports[0], "watcher", "wrong")
    except (ConnectionRefusedError, ConnectionError) as e:
        check("Authorization Violation" in str(e), f"bad password: {e}")
    else:
        raise Failure("a wrong password was accepted")
    w = connect(c, 1, "watcher")
    try:
        # Before kfreezed made the stream: the answer is JSON all the same, "stream not found".
        info = w.js(f"STREAM.INFO.{STREAM}")
        allowed(w, "watcher PUB $JS.API.STREAM.INFO with a reply")
        check(info.get("type") == "io.nats.jetstream.api.v1.stream_info_response" and
              (info.get("error") or {}).get("err_code") in (None, 10059),
              f"watcher's STREAM.INFO: {info}")
    finally:
        w.close()


def check_stream_survives(c, node, expect_at_least):
    w = connect(c, node, "watcher")
    try:
        info = js_ok(w.js(f"STREAM.INFO.{STREAM}", timeout=10), f"stream info via n{node}")
        check(info["state"]["messages"] >= expect_at_least, f"stream state {info['state']}")
        check(info.get("cluster", {}).get("leader"),
              f"stream without leader: {info.get('cluster')}")
    finally:
        w.close()


def deploy_passwords(path):
    """{user: password} of the placeholders in deploy/nats/accounts.conf."""
    text = "\n".join(ln.split("#", 1)[0] for ln in path.read_text().splitlines())
    pairs = re.findall(r'user:\s*"?([\w-]+)"?\s*,?\s*password:\s*"([^"]+)"', text)
    return dict(pairs)


def check_deploy_subjects(path):
    """Each user's block in the file names exactly the subjects PERMISSIONS grants it (the
    behaviour checks that follow prove what those grants let through)."""
    text = "\n".join(ln.split("#", 1)[0] for ln in path.read_text().splitlines())
    blocks = re.split(r'\buser:\s*"?([\w-]+)"?', text)[1:]
    for user, block in zip(blocks[0::2], blocks[1::2]):
        if user not in PERMISSIONS:
            continue
        named = set(re.findall(r'"([^"\s]*[.>][^"\s]*)"', block))
        want = {subj for verb in ("publish", "subscribe")
                for rule in PERMISSIONS[user][verb].values() for subj in rule}
        check(named == want, f"{path.name}, {user}: missing {sorted(want - named)}, "
                             f"extra {sorted(named - want)}")
        check(("allow_responses: true" in block) == bool(PERMISSIONS[user].get("allow_responses")),
              f"{path.name}, {user}: allow_responses differs")


def run(workdir, timings):
    c = NatsCluster(workdir / "generated", websocket=True)
    with phase("start 3 nodes (websocket on n1)", timings):
        c.start()
    try:
        with phase("each node: /jsz cluster of 3, one meta leader", timings):
            check_formed(c, [1, 2, 3])
        with phase("auth: wrong password refused; watcher's STREAM.INFO answered", timings):
            check_auth(c)
        with phase("kfreezed: streams, dedup, serves freeze/targets, replies once", timings):
            check_daemon(c)
        with phase("watcher: reads the stream and bucket, writes nothing", timings):
            check_watcher(c)
        with phase("websocket on n1: watcher and operator", timings):
            check_websocket(c)
        with phase("stop n2: n1 and n3 keep a meta leader; R3 publish still acked", timings):
            c.stop_node(2)
            leader = c.wait_ready(nodes=[1, 3])
            check(leader in ("n1", "n3"), f"leader {leader!r} with n2 down")
            d = connect(c, 3, "kfreezed")
            publish_event(d, 2)
            d.close()
        with phase("restart n2: it rejoins and serves the stream", timings):
            c.start_node(2)
            check_formed(c, [1, 2, 3])
            check_stream_survives(c, 2, 2)
        with phase("stop all, start all: the cluster forms again with its streams", timings):
            c.stop()
            check(not c.running_nodes(), "nodes still running after stop()")
            c.start()
            check_formed(c, [1, 2, 3])
            check_stream_survives(c, 1, 2)
    finally:
        with phase("stop", timings):
            c.close()

    check(DEPLOY_ACCOUNTS.exists(), f"{DEPLOY_ACCOUNTS} missing")
    pw = deploy_passwords(DEPLOY_ACCOUNTS)
    check(set(pw) == set(PERMISSIONS), f"users in {DEPLOY_ACCOUNTS}: {sorted(pw)}")
    with phase("deploy/nats/accounts.conf: the same grants", timings):
        check_deploy_subjects(DEPLOY_ACCOUNTS)
        with NatsCluster(workdir / "deploy", accounts=DEPLOY_ACCOUNTS, passwords=pw) as dc:
            check_auth(dc)
            check_daemon(dc)
            check_watcher(dc, probe=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="default: a fresh temporary directory")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, stores)")
    args = ap.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="nats-selftest-"))
    timings = []
    t0 = time.monotonic()
    try:
        run(workdir, timings)
    except (Failure, TimeoutError, ConnectionError, RuntimeError) as e:
        print(f"FAIL: {e}\n(logs under {workdir})", flush=True)
        return 1
    total = time.monotonic() - t0
    print(f"PASS in {total:.2f}s")
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
