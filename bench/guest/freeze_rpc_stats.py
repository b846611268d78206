"""Shared by freeze_latency.py and multi_target.py: runs bench/server's freeze_rpc_loop (Freeze RPC
latency timed inside one client, no process spawn per call), parses its lines, takes percentiles
and reads kfreezed's RssAnon."""

import re
import statistics
import subprocess
from pathlib import Path

from e2e_common import Failure, check

_FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')


def parse_calls(text):
    """[{round, target, ok, rpc_us, freeze_window_us, ...}] from freeze_rpc_loop's `call` lines."""
    calls = []
    for line in text.splitlines():
        if not line.startswith("call "):
            continue
        c = {k: v.strip('"') for k, v in _FIELD.findall(line)}
        for k, v in list(c.items()):
            if k.endswith("_us") or k in ("round", "ok", "window_bytes", "bytes"):
                c[k] = int(v)
        calls.append(c)
    return calls


def run_loop(loop_bin, sock, targets, rounds, concurrent=False, timeout=3600):
    """freeze_rpc_loop against kfreezed on unix socket `sock`; its parsed calls. A failed Freeze is a
    Failure (with the daemon's message)."""
    cmd = [str(loop_bin), f"--server=unix:{sock}", f"--targets={','.join(targets)}",
           f"--rounds={rounds}"] + (["--concurrent"] if concurrent else [])
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    check(res.returncode == 0, f"freeze_rpc_loop exited {res.returncode}: {res.stderr[-1000:]}")
    calls = parse_calls(res.stdout)
    check(len(calls) == rounds * len(targets), f"freeze_rpc_loop gave {len(calls)} calls")
    bad = [c for c in calls if not c["ok"]]
    check(not bad, f"{len(bad)} Freeze call(s) failed, first: {bad[:1]}")
    return calls


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


def median(values):
    return statistics.median(values) if values else float("nan")


def rss_anon_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    raise Failure(f"no RssAnon for pid {pid}")


_ARCHIVE_MS = re.compile(r"freeze target=(\S+) .* archive=(\d+)\.(\d)ms")


def archive_ms_from_log(log_text, target=None):
    """The per-freeze `archive=X.Yms` of kfreezed's info log (time to make the dump durable)."""
    out = []
    for m in _ARCHIVE_MS.finditer(log_text):
        if target is None or m.group(1) == target:
            out.append(int(m.group(2)) + int(m.group(3)) / 10)
    return out
