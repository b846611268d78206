"""Python helper around tests/vm/lab for tests (e2e and vm): boot, exec, truth, teardown.

    import sys; sys.path.insert(0, "<repo>/tests/vm")
    import labclient

    with labclient.guest("e2e-dump", "scx-running") as g:
        print(g.info["RAM"], g.info["QMP"])         # the `lab up` KEY=value lines
        res = g.exec("cat /sys/kernel/sched_ext/state")
        truth = g.truth()

Every call runs the `lab` command line (so KFREEZE_VM_CACHE and the other KFREEZE_VM_* variables
apply) and raises LabFailure with lab's error message when it fails.
"""

import contextlib
import json
import shlex
import subprocess
from pathlib import Path

LAB = Path(__file__).resolve().parent / "lab"
LAB_ERROR_EXIT = 255


class LabFailure(Exception):
    pass


class ExecResult:
    def __init__(self, rc: int, stdout: bytes, stderr: bytes):
        self.rc = rc
        self.stdout_bytes = stdout
        self.stderr_bytes = stderr

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode(errors="replace")

    def __repr__(self):
        return f"ExecResult(rc={self.rc}, stdout={self.stdout[:200]!r}, stderr={self.stderr[:200]!r})"


def _lab(*args, timeout=None) -> subprocess.CompletedProcess:
    res = subprocess.run([str(LAB), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout)
    return res


def _check(res: subprocess.CompletedProcess, what: str) -> None:
    if res.returncode != 0:
        raise LabFailure(f"lab {what} failed (exit {res.returncode}):\n"
                         f"{res.stderr.decode(errors='replace')}")


def parse_kv(text: str) -> dict:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            out[key] = value
    return out


def fetch(refresh: bool = False, arch=None) -> dict:
    """`lab fetch`; returns its KEY=value lines (KERNEL, VMLINUX, VMLINUX_H, BPF_DIR, ...).
    arch: x86_64 or arm64 (default KFREEZE_VM_ARCH, else x86_64)."""
    res = _lab("fetch", *(["--refresh"] if refresh else []), *(["--arch", arch] if arch else []))
    _check(res, "fetch")
    return parse_kv(res.stdout.decode())


def up(name: str, scenario, *, cpus=None, mem=None, kaslr=None, accel=None, timeout=None,
       add=None, params=None, arch=None, cpu_opts=None) -> dict:
    """`lab up`; returns the KEY=value lines (RAM, QMP, CONSOLE, CMD, PID, ACCEL, RETRIES, ...).

    scenario: a path, or the name of a scenario shipped in tests/vm/scenarios.
    add: {host_path: guest_path} files copied into the guest.
    params: {key: value} scenario parameters (`--param KEY=VALUE`; LAB_PARAM_<KEY> in the guest).
    arch: x86_64 or arm64 (default KFREEZE_VM_ARCH, else x86_64); cpu_opts: extra -cpu
    properties, e.g. "lpa2=off".
    """
    args = ["up", name, "--scenario", scenario]
    for flag, value in (("--cpus", cpus), ("--mem", mem), ("--kaslr", kaslr), ("--accel", accel),
                        ("--timeout", timeout), ("--arch", arch), ("--cpu-opts", cpu_opts)):
        if value is not None:
            args += [flag, value]
    for host, guest_path in (add or {}).items():
        args += ["--add", f"{host}={guest_path}"]
    for key, value in (params or {}).items():
        args += ["--param", f"{key}={value}"]
    res = _lab(*args)
    _check(res, f"up {name}")
    return parse_kv(res.stdout.decode())


def exec(name: str, cmd, *, timeout=None, check: bool = False) -> ExecResult:  # noqa: A001
    """Runs cmd in the guest: a string is a shell script, a list an exact argv."""
    argv = [cmd] if isinstance(cmd, str) else [shlex.join(map(str, cmd))]
    args = ["exec", name] + (["--timeout", timeout] if timeout is not None else []) + ["--", *argv]
    res = _lab(*args)
    if res.returncode == LAB_ERROR_EXIT and res.stderr.startswith(b"lab: error:"):
        raise LabFailure(res.stderr.decode(errors="replace"))
    out = ExecResult(res.returncode, res.stdout, res.stderr)
    if check and out.rc != 0:
        raise LabFailure(f"guest command failed: {cmd!r}: {out}")
    return out


def truth(name: str, *, timeout=None) -> dict:
    res = _lab("truth", name, *(["--timeout", timeout] if timeout is not None else []))
    _check(res, f"truth {name}")
    return json.loads(res.stdout)


def down(name: str) -> bool:
    """Stops the guest; False if it was not up. Never raises for a guest that is already gone."""
    res = _lab("down", name)
    _check(res, f"down {name}")
    return res.stdout.startswith(b"DOWN=")


class Guest:
    def __init__(self, name: str, info: dict):
        self.name = name
        self.info = info

    @property
    def ram(self) -> Path:
        return Path(self.info["RAM"])

    @property
    def qmp(self) -> Path:
        return Path(self.info["QMP"])

    @property
    def console(self) -> Path:
        return Path(self.info["CONSOLE"])

    @property
    def pid(self) -> int:
        return int(self.info["PID"])

    def exec(self, cmd, **kw) -> ExecResult:
        return exec(self.name, cmd, **kw)

    def truth(self, **kw) -> dict:
        return truth(self.name, **kw)

    def down(self) -> bool:
        return down(self.name)


@contextlib.contextmanager
def guest(name: str, scenario, **up_kw):
    """Boots a guest (taking down a stale one of the same name first) and always tears it down."""
    down(name)
    info = up(name, scenario, **up_kw)
    try:
        yield Guest(name, info)
    finally:
        down(name)
