#!/usr/bin/python3
"""A real 3-node NATS JetStream cluster on loopback for tests (docs/design/fleet.md).

Each node is a Debian `nats-server` (2.9.10 on bookworm) with its own config, store dir and log
under `workdir/n<i>/`, a client, route and monitoring port picked free at construction (kept for
the cluster's life, so a restarted node comes back where its peers expect it), and optionally a
websocket listener without TLS on node 1 (the dashboard's transport).

Nodes are numbered from 1, as their server names n1..n3 are: `url(1)` is node n1. 0 raises.

With `accounts=True` every node includes one generated `accounts.conf`: account KFREEZE
(JetStream enabled) with users kfreezed, watcher and operator, passwords random per cluster and
permissions as in fleet.md §5 (PERMISSIONS below; deploy/nats/accounts.conf grants the same).
Passing a path instead includes that file (e.g. the production example) and `passwords` names
the passwords it holds.

    with NatsCluster(tmp) as c:         # started; every node killed on exit, whatever happens
        c.urls(user="watcher")          # ["nats://watcher:PW@127.0.0.1:P1", ...]
        c.stop_node(2); c.start_node(2)

Command line: `nats_cluster.py --workdir DIR [--nodes 3] [--websocket] [--no-accounts]` starts
one, prints its URLs and waits for Ctrl-C.
"""

import argparse
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCOUNT = "KFREEZE"
STREAM = "KFREEZE_DUMPS"
BUCKET = "kfreeze-dumps"
OBJECT_STREAM = f"OBJ_{BUCKET}"
CLUSTER_NAME = "kfreeze-test"


def _read_only_js(streams):
    """Publish subjects a JetStream reader of `streams` needs and nothing that writes: ordered push
    consumers (create in the 2.9 ephemeral form CONSUMER.CREATE.<s> and the named/filtered form
    CONSUMER.CREATE.<s>.<name>[.<filter>] that libnats 3.4 and nats.go send to 2.9+ servers;
    delete, which an ordered consumer does on a gap or when closed; info), stream info and the
    stream-name lookup by subject, message get (STREAM.MSG.GET, and DIRECT.GET in both forms:
    .<s> with a JSON body and .<s>.<subject> for last-by-subject, how an object store reads its
    meta), flow-control replies ($JS.FC.<s>.<consumer>.<id>) and acks ($JS.ACK.<s>.>, for a
    client that acks; ordered consumers do not)."""
    subjects = ["$JS.API.INFO", "$JS.API.STREAM.NAMES"]
    for s in streams:
        subjects += [
            f"$JS.API.STREAM.INFO.{s}",
            f"$JS.API.STREAM.MSG.GET.{s}",
            f"$JS.API.DIRECT.GET.{s}", f"$JS.API.DIRECT.GET.{s}.>",
            f"$JS.API.CONSUMER.CREATE.{s}", f"$JS.API.CONSUMER.CREATE.{s}.>",
            f"$JS.API.CONSUMER.DELETE.{s}.*",
            f"$JS.API.CONSUMER.INFO.{s}.*",
            f"$JS.FC.{s}.>",
            f"$JS.ACK.{s}.>",
        ]
    return subjects


_READER_PUB = _read_only_js([STREAM, OBJECT_STREAM]) + ["kfreeze.targets", "kfreeze.targets.>"]

# fleet.md §5. Lists of subjects; `deny` wins over `allow` in nats-server.
PERMISSIONS = {
    "kfreezed": {
        "publish": {"allow": ["kfreeze.dumps.>", f"$O.{BUCKET}.>", "$JS.API.>"]},
        "subscribe": {"allow": ["kfreeze.freeze.>", "kfreeze.targets", "kfreeze.targets.>",
                                "_INBOX.>"]},
        # Replies to freeze and targets requests go to the requester's inbox, which no static
        # allow list can name: the server lets it answer each request it received once.
        "allow_responses": True,
    },
    "watcher": {
        # The deny is redundant with the allow list; it states the one thing a watcher must not do.
        "publish": {"allow": _READER_PUB, "deny": ["kfreeze.freeze.>"]},
        "subscribe": {"allow": ["_INBOX.>"]},
    },
    "operator": {
        "publish": {"allow": _READER_PUB + ["kfreeze.freeze.>"]},
        "subscribe": {"allow": ["_INBOX.>"]},
    },
}
USERS = tuple(PERMISSIONS)


def find_nats_server():
    """$NATS_SERVER, else nats-server on PATH, else Debian's /usr/sbin (not on a user's PATH)."""
    for cand in (os.environ.get("NATS_SERVER"), shutil.which("nats-server"),
                 "/usr/sbin/nats-server", "/usr/bin/nats-server"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise FileNotFoundError("nats-server not found: apt-get install nats-server, "
                            "or set NATS_SERVER")


def _free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (all held open together so none repeats)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _conf_str(s):
    # Always quoted: an unquoted $JS... would be read as a variable reference.
    return json.dumps(s)


def _conf_list(items):
    return "[" + ", ".join(_conf_str(i) for i in items) + "]"


def _permissions_conf(perms):
    lines = []
    for verb in ("publish", "subscribe"):
        rules = perms[verb]
        inner = ", ".join(f"{k}: {_conf_list(rules[k])}" for k in ("allow", "deny") if k in rules)
        lines.append(f"{verb}: {{ {inner} }}")
    if perms.get("allow_responses"):
        lines.append("allow_responses: true")
    return "{\n          " + "\n          ".join(lines) + "\n        }"


def accounts_conf(passwords):
    """The text of an accounts file: account KFREEZE with PERMISSIONS' users and `passwords`."""
    users = []
    for user, perms in PERMISSIONS.items():
        users.append(f"      {{ user: {_conf_str(user)}, password: {_conf_str(passwords[user])},\n"
                     f"        permissions: {_permissions_conf(perms)} }}")
    return ("# Generated by tests/support/nats_cluster.py (test passwords in plain text).\n"
            f"accounts {{\n  {ACCOUNT} {{\n    jetstream: enabled\n    users: [\n"
            + "\n".join(users) + "\n    ]\n  }\n}\n")


_PR_SET_PDEATHSIG = 1
# The monitor is on loopback: never through an http_proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _die_with_parent():
    # In the child before exec: SIGKILL when the thread that started it dies.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class NatsCluster:
    def __init__(self, workdir, nodes=3, accounts=True, websocket=False, passwords=None,
                 server=None, cluster_name=CLUSTER_NAME, die_with_parent=True):
        """`accounts`: True (generated accounts.conf), False (no authentication), or the path of
        an accounts file to include, with `passwords` {user: password} for the users it holds.
        `die_with_parent`: the kernel kills each node when the thread that started it ends
        (PR_SET_PDEATHSIG), so a test killed by a timeout leaves no server behind; pass False to
        start nodes from a short-lived thread."""
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self.dir = Path(workdir).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = None
        self._take_workdir()
        self.n = nodes
        self.server = server or find_nats_server()
        self.cluster_name = cluster_name
        self.websocket = websocket
        self.die_with_parent = die_with_parent
        self.accounts = accounts
        if accounts is True:
            self.passwords = {u: secrets.token_hex(12) for u in USERS}
        elif accounts:
            if not passwords:
                raise ValueError("accounts given as a file needs passwords={user: password}")
            self.passwords = dict(passwords)
        else:
            self.passwords = {}
        ports = _free_ports(3 * nodes + (1 if websocket else 0))
        self.client_ports = ports[0:nodes]
        self.route_ports = ports[nodes:2 * nodes]
        self.http_ports = ports[2 * nodes:3 * nodes]
        self.ws_port = ports[3 * nodes] if websocket else None
        self.procs = {}  # node -> Popen
        self._logs = {}
        self._write_configs()

    def _take_workdir(self):
        # Two clusters on one store would corrupt it: held from construction (or start()) to
        # close().
        if self._lock is not None:
            return
        lock = open(self.dir / "cluster.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(f"{self.dir} is in use by another NatsCluster") from None
        self._lock = lock

    # ---- addresses ------------------------------------------------------------------------
    def _check(self, i):
        if not 1 <= i <= self.n:
            raise IndexError(f"node {i}: nodes are numbered 1..{self.n}")

    def _auth(self, user):
        if user is None:
            return ""
        return f"{user}:{self.passwords[user]}@"

    def url(self, i, user=None):
        """nats://[user:pw@]127.0.0.1:PORT of node i (1-based)."""
        self._check(i)
        return f"nats://{self._auth(user)}127.0.0.1:{self.client_ports[i - 1]}"

    def urls(self, user=None):
        """Every node's client URL, node 1 first, with `user`'s credentials when given."""
        return [self.url(i, user) for i in range(1, self.n + 1)]

    def servers(self, user=None):
        """The URLs joined by commas: the form `kfreezed --nats` and `kfreeze --nats` take."""
        return ",".join(self.urls(user))

    def ws_url(self, user=None):
        """ws://[user:pw@]127.0.0.1:PORT of node 1's websocket listener."""
        if self.ws_port is None:
            raise RuntimeError("cluster started without websocket=True")
        return f"ws://{self._auth(user)}127.0.0.1:{self.ws_port}"

    def creds(self, user):
        """(user, password) of one of USERS."""
        return user, self.passwords[user]

    def monitor_url(self, i):
        self._check(i)
        return f"http://127.0.0.1:{self.http_ports[i - 1]}"

    def node_dir(self, i):
        self._check(i)
        return self.dir / f"n{i}"

    def store_dir(self, i):
        """Node i's JetStream store_dir (nats-server keeps its data in a `jetstream/` below)."""
        return self.node_dir(i) / "store"

    def log_path(self, i):
        return self.node_dir(i) / "nats-server.log"

    def log_tail(self, i, chars=3000):
        p = self.log_path(i)
        return p.read_text(errors="replace")[-chars:] if p.exists() else ""

    # ---- configuration ----------------------------------------------------------------------
    def _write_configs(self):
        acc = None
        if self.accounts is True:
            acc = self.dir / "accounts.conf"
            acc.write_text(accounts_conf(self.passwords))
        elif self.accounts:
            acc = Path(self.accounts).resolve()
        routes = [f"nats-route://127.0.0.1:{p}" for p in self.route_ports]
        for i in range(1, self.n + 1):
            d = self.node_dir(i)
            self.store_dir(i).mkdir(parents=True, exist_ok=True)
            conf = [
                f"server_name: n{i}",
                f"listen: \"127.0.0.1:{self.client_ports[i - 1]}\"",
                f"http: \"127.0.0.1:{self.http_ports[i - 1]}\"",
                # Small limits: a test machine runs several clusters at once.
                f"jetstream {{ store_dir: {_conf_str(str(self.store_dir(i)))}, "
                "max_memory_store: 64MB, max_file_store: 1GB }",
            ]
            if self.n > 1:
                # Every node lists every route, itself included (the server skips its own).
                conf.append(f"cluster {{ name: {_conf_str(self.cluster_name)}, "
                            f"listen: \"127.0.0.1:{self.route_ports[i - 1]}\", "
                            f"routes: {_conf_list(routes)} }}")
            if i == 1 and self.ws_port is not None:
                conf.append(f"websocket {{ listen: \"127.0.0.1:{self.ws_port}\", no_tls: true }}")
            if acc is not None:
                # nats-server resolves an include against the including file's directory, even
                # an absolute path.
                conf.append(f"include {_conf_str(os.path.relpath(acc, d))}")
            (d / "nats.conf").write_text("\n".join(conf) + "\n")

    # ---- processes --------------------------------------------------------------------------
    def start(self, timeout=30):
        """Starts every node not running and waits until the cluster is ready (`wait_ready`)."""
        self._take_workdir()
        try:
            for i in range(1, self.n + 1):
                if not self.running(i):
                    self._spawn(i)
            self.wait_ready(timeout=timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def start_node(self, i, timeout=30):
        """Starts node i again (same ports, store and config); waits for the running nodes."""
        self._check(i)
        if self.running(i):
            raise RuntimeError(f"node {i} is running")
        self._spawn(i)
        self.wait_ready(timeout=timeout)

    def _spawn(self, i):
        if i in self._logs:
            self._logs[i].close()
        self._logs[i] = open(self.log_path(i), "ab")
        self.procs[i] = subprocess.Popen(
            [self.server, "-c", str(self.node_dir(i) / "nats.conf")], cwd=self.node_dir(i),
            stdin=subprocess.DEVNULL, stdout=self._logs[i], stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if self.die_with_parent else None)

    def running(self, i):
        p = self.procs.get(i)
        return p is not None and p.poll() is None

    def running_nodes(self):
        return [i for i in range(1, self.n + 1) if self.running(i)]

    def stop_node(self, i, timeout=15):
        """SIGTERM to node i and waits for it; SIGKILL if it has not exited within `timeout`.
        Returns its exit status (None when it was not running)."""
        self._check(i)
        p = self.procs.get(i)
        if p is None or p.poll() is not None:
            return None
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def kill_node(self, i):
        """SIGKILL: a crash, no clean shutdown of its JetStream state."""
        self._check(i)
        p = self.procs.get(i)
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()

    def stop(self):
        """SIGTERM to every node, then waits for each. The configs and stores stay: start() brings
        the same cluster back with its streams."""
        live = [self.procs[i] for i in self.running_nodes()]
        for p in live:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in live:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def kill(self):
        for i in list(self.procs):
            self.kill_node(i)
        for f in self._logs.values():
            f.close()
        self._logs.clear()

    def close(self):
        """stop(), SIGKILL to whatever did not stop, and the work dir free for another cluster."""
        try:
            self.stop()
        finally:
            self.kill()
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # ---- monitoring -------------------------------------------------------------------------
    def monitor(self, i, path, timeout=2.0):
        """GET the monitoring endpoint `path` (e.g. "/jsz") of node i: (HTTP status, JSON body)."""
        try:
            with _NO_PROXY.open(self.monitor_url(i) + path, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return e.code, json.loads(body or b"{}")
            except ValueError:
                return e.code, {"error": body.decode(errors="replace")}

    def jsz(self, i):
        return self.monitor(i, "/jsz")[1]

    def meta_leader(self, i):
        """The JetStream meta leader's server name as node i sees it ("" while there is none)."""
        return (self.jsz(i).get("meta_cluster") or {}).get("leader", "")

    def _node_state(self, i, expected_routes):
        """None when node i is ready, else why not."""
        try:
            # /jsz first: a failing /healthz logs a warning on every poll.
            js = self.jsz(i)
            if js.get("disabled") or "config" not in js:
                return "JetStream not enabled yet"
            if self.n > 1:
                meta = js.get("meta_cluster") or {}
                if not meta.get("leader"):
                    return "no meta leader"
                routes = self.monitor(i, "/routez")[1].get("num_routes", 0)
                if routes < expected_routes:
                    return f"{routes} of {expected_routes} routes"
            status, health = self.monitor(i, "/healthz")
            if status != 200:
                return f"healthz {status} {health}"
            return None
        except (OSError, ValueError) as e:
            return f"monitor: {e}"

    def wait_ready(self, nodes=None, timeout=30):
        """Waits until every running node (or `nodes`) has JetStream up, answers /healthz 200 (in
        a cluster: meta group current), is routed to every other running node and all agree on
        one meta leader. Returns that leader's name ("" for a single node)."""
        nodes = nodes or self.running_nodes()
        if not nodes:
            raise RuntimeError("no node running")
        deadline = time.monotonic() + timeout
        while True:
            why = {}
            for i in nodes:
                if not self.running(i):
                    raise RuntimeError(f"nats-server n{i} exited with {self.procs[i].returncode}:\n"
                                       f"{self.log_tail(i)}")
                state = self._node_state(i, len(self.running_nodes()) - 1)
                if state:
                    why[i] = state
            if not why:
                leaders = {self.meta_leader(i) for i in nodes}
                if len(leaders) == 1:
                    return leaders.pop()
                why = {"all": f"leaders disagree: {sorted(leaders)}"}
            if time.monotonic() >= deadline:
                logs = "".join(f"---- n{i} log\n{self.log_tail(i, 1500)}" for i in nodes)
                raise TimeoutError(f"NATS cluster not ready after {timeout}s: {why}\n{logs}")
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description="Run a loopback NATS JetStream cluster until Ctrl-C.")
    ap.add_argument("--workdir", required=True, help="configs, stores and logs go here")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--websocket", action="store_true", help="a ws:// listener (no TLS) on node 1")
    ap.add_argument("--no-accounts", action="store_true", help="no users, no permissions")
    args = ap.parse_args()
    cluster = NatsCluster(args.workdir, nodes=args.nodes, accounts=not args.no_accounts,
                          websocket=args.websocket)
    # Ctrl-C and SIGTERM both stop the nodes (a shell's `cmd &` starts us with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with cluster:
        print(f"cluster {cluster.cluster_name}: {cluster.n} nodes, meta leader "
              f"{cluster.wait_ready() or '-'}; logs in {cluster.dir}/n*/nats-server.log")
        for i in range(1, cluster.n + 1):
            print(f"  n{i}: {cluster.url(i)}  monitor {cluster.monitor_url(i)}")
        if args.websocket:
            print(f"  websocket: {cluster.ws_url()}")
        for user in cluster.passwords:
            print(f"  --nats {cluster.servers(user)}")
        print("Ctrl-C stops it.", flush=True)
        try:
            while all(cluster.running(i) for i in range(1, cluster.n + 1)):
                time.sleep(0.5)
            print("a node exited; stopping", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
