"""Shared by the server_* e2e tests: a kfreezed on a private unix socket and the kfreeze CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e_common import Failure, check  # noqa: F401 (the server_* tests take them from here)


class Daemon:
    """kfreezed with its own socket, archive and log in `workdir`."""

    def __init__(self, kfreezed, kfreeze, workdir, targets, config=None):
        self.kfreezed = kfreezed
        self.kfreeze_bin = kfreeze
        self.dir = Path(workdir)
        self.sock = self.dir / "k.sock"
        self.targets = targets
        self.config = config
        self.proc = None
        self.log = self.dir / "kfreezed.log"

    def start(self):
        cmd = [self.kfreezed, "--listen", f"unix:{self.sock}", "--archive-dir", str(self.dir / "archive")]
        if self.config is not None:
            cfg = self.dir / "config.json"
            cfg.write_text(json.dumps(self.config))
            cmd += ["--config", str(cfg)]
        for t in self.targets:
            cmd += ["--target", t]
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not self.sock.exists():
            check(self.proc.poll() is None, f"kfreezed exited: {self.log.read_text()[-2000:]}")
            check(time.time() < deadline, "kfreezed socket never appeared")
            time.sleep(0.05)
        return self

    def wait_attached(self, name, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            t = self.target(name)
            if t.get("state") == "TARGET_STATE_ATTACHED":
                return t
            check(t.get("state") != "TARGET_STATE_FAILED", f"attach of {name} failed: {t.get('last_error')}")
            time.sleep(0.1)
        raise Failure(f"{name} not attached after {timeout}s")

    def target(self, name):
        return json.loads(self.cli("targets", name, "--json").stdout)["targets"][0]

    def cli(self, *args, check_rc=True, timeout=120):
        res = subprocess.run([self.kfreeze_bin, "--server", f"unix:{self.sock}", *args],
                             capture_output=True, text=True, timeout=timeout)
        if check_rc and res.returncode != 0:
            raise Failure(f"kfreeze {' '.join(args)} -> rc {res.returncode}: {res.stderr.strip()}")
        return res

    def freeze(self, target, *extra):
        return json.loads(self.cli("freeze", target, "--json", *extra).stdout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Failure("kfreezed did not stop within 30 s of SIGTERM")
            self.logf.close()
            return rc
        return None

    def log_text(self):
        return self.log.read_text(errors="replace")


def report_of(envelope):
    for key in ("single", "dual", "degraded"):
        if key in envelope:
            return key, envelope[key]
    return "", {}


def run_checks(checks):
    """Runs each (name, fn) and reports all failures; returns the exit status."""
    failed = 0
    for name, fn in checks:
        try:
            fn()
            print(f"PASS {name}", flush=True)
        except Failure as e:
            failed += 1
            print(f"FAIL {name}: {e}", flush=True)
    print(f"{len(checks) - failed}/{len(checks)} checks passed", flush=True)
    return 1 if failed else 0


def env_path(name, default=None):
    v = os.environ.get(name, default)
    return Path(v) if v else None


def die(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def ensure_buf(prefix: Path) -> Path:
    """The third-party client `buf` (npm @bufbuild/buf), installed under `prefix` when missing."""
    buf = prefix / "node_modules" / ".bin" / "buf"
    if not buf.exists():
        res = subprocess.run(["npm", "install", "--prefix", str(prefix), "@bufbuild/buf"],
                             capture_output=True, text=True, timeout=600)
        if res.returncode != 0 or not buf.exists():
            raise Failure(f"cannot install @bufbuild/buf with npm: {res.stderr.strip()[-500:]}")
    return buf
