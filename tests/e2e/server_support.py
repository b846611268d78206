"""Shared by the e2e tests that run the daemon: a kfreezed on a private unix socket, the kfreeze
CLI against it, and the third-party client `buf`."""

import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path

from e2e_common import Failure, check, run_checks


class Daemon:
    """kfreezed with its own socket, archive and log in `workdir`. As a context manager it is
    started on entry and stopped on exit."""

    def __init__(self, kfreezed, kfreeze, workdir, targets, config=None, extra_args=()):
        self.kfreezed = kfreezed
        self.kfreeze_bin = kfreeze
        self.dir = Path(workdir)
        self.sock = self.dir / "k.sock"
        self.targets = targets
        self.config = config
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = self.dir / "kfreezed.log"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.sock.unlink(missing_ok=True)  # a SIGKILLed kfreezed leaves its socket behind
        cmd = [self.kfreezed, "--listen", f"unix:{self.sock}", "--archive-dir", str(self.dir / "archive")]
        if self.config is not None:
            cfg = self.dir / "config.json"
            cfg.write_text(json.dumps(self.config))
            cmd += ["--config", str(cfg)]
        for t in self.targets:
            cmd += ["--target", t]
        cmd += self.extra_args
        if self.proc is not None:
            self.logf.close()  # of the kfreezed before, stopped or killed
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        try:
            while not self.sock.exists():
                check(self.proc.poll() is None, f"kfreezed exited: {self.log_text()[-2000:]}")
                check(time.time() < deadline, "kfreezed socket never appeared")
                time.sleep(0.05)
        except Failure:
            self.stop()
            raise
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

    def cli_argv(self, *args):
        return [self.kfreeze_bin, "--server", f"unix:{self.sock}", *args]

    def cli_popen(self, *args, **popen_kw):
        """The kfreeze CLI started in the background (watch, or a freeze to race with)."""
        return subprocess.Popen(self.cli_argv(*args), **popen_kw)

    def cli(self, *args, check_rc=True, timeout=120):
        res = subprocess.run(self.cli_argv(*args), capture_output=True, text=True, timeout=timeout)
        if check_rc and res.returncode != 0:
            raise Failure(f"kfreeze {' '.join(args)} -> rc {res.returncode}: {res.stderr.strip()}")
        return res

    def freeze(self, target, *extra):
        return json.loads(self.cli("freeze", target, "--json", *extra).stdout)

    def stop(self):
        """SIGTERM; kfreezed's exit status, or None when it was not running."""
        if self.proc is None:
            return None
        try:
            if self.proc.poll() is not None:
                return None
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("kfreezed did not stop within 30 s of SIGTERM")
        finally:
            self.logf.close()

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def run_checks(self, checks, log_chars=3000):
        """e2e_common.run_checks against this kfreezed; after a failure the tail of its log follows
        (what kfreezed said is most often the reason)."""
        rc = run_checks(checks)
        if rc:
            print(self.log_tail(log_chars), flush=True)
        return rc

    def log_tail(self, chars=3000):
        return f"---- kfreezed log (tail)\n{self.log_text()[-chars:]}"

    def wait_log_line(self, needle, since=0, timeout=10.0):
        """The first log line containing `needle` past character offset `since`, waiting up to
        `timeout` seconds for it; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text()[since:].splitlines():
                if needle in line:
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)


def report_of(envelope):
    """(schema, report) of a DumpEnvelope in proto JSON: ("single"|"dual"|"degraded", its body)."""
    for key in ("single", "dual", "degraded"):
        if key in envelope:
            return key, envelope[key]
    return "", {}


def ensure_buf(prefix: Path) -> Path:
    """The third-party client `buf` (npm @bufbuild/buf), installed under `prefix` when missing."""
    buf = prefix / "node_modules" / ".bin" / "buf"
    if not buf.exists():
        res = subprocess.run(["npm", "install", "--prefix", str(prefix), "@bufbuild/buf"],
                             capture_output=True, text=True, timeout=600)
        if res.returncode != 0 or not buf.exists():
            raise Failure(f"cannot install @bufbuild/buf with npm: {res.stderr.strip()[-500:]}")
    return buf


def buf_curl(buf, sock, *args, url="http://localhost", timeout=120):
    """`buf curl` over kfreezed's unix socket (gRPC, HTTP/2 without TLS); its stdout."""
    res = subprocess.run([str(buf), "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                          "--unix-socket", str(sock), *args, url],
                         capture_output=True, text=True, timeout=timeout)
    check(res.returncode == 0, f"buf curl {' '.join(args)} {url}: rc {res.returncode}: {res.stderr.strip()[-500:]}")
    return res.stdout


@contextlib.contextmanager
def trigger_daemon(kfreezed, workdir, g, name, triggers, watchpoint=False):
    """kfreezed with one auto-trigger target, lab guest `g` under `name`, attached — and with its
    late watchpoint armed through the gdbstub when `watchpoint`."""
    target = {"name": name, "ram_path": str(g.ram), "qmp_socket": str(g.qmp), "triggers": triggers}
    with Daemon(kfreezed, None, workdir, [], config={"targets": [target]},
                extra_args=["--log_level", "debug"]) as d:
        check(d.wait_log_line("attached kernel", timeout=60) is not None,
              f"kfreezed did not attach within 60 s:\n{d.log_tail(2000)}")
        if watchpoint:
            check(d.wait_log_line("late watchpoint through the gdbstub", timeout=30) is not None,
                  f"no gdbstub watchpoint:\n{d.log_tail(3000)}")
        yield d


def watch_first_dump(watch_bin, d, out):
    """The WatchDumps client (scx_watch_dual) on `d`, writing the first published dump to `out`."""
    return subprocess.Popen([watch_bin, "--server", f"unix:{d.sock}", "--timeout_s", "180"],
                            stdout=out.open("w"), stderr=subprocess.PIPE)
