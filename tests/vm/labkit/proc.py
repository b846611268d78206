"""Small subprocess helpers with error messages that say what failed."""

import subprocess
import sys


class LabError(Exception):
    """A failure the lab reports to the user as one clear message (no traceback)."""


def run(cmd, *, cwd=None, capture=True, check=True, input_bytes=None, timeout=None) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            input=input_bytes,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            timeout=timeout,
        )
    except FileNotFoundError as e:
        raise LabError(f"command not found: {cmd[0]} ({e}); run deploy/install-deps.sh") from e
    except subprocess.TimeoutExpired as e:
        raise LabError(f"command timed out after {timeout}s: {' '.join(map(str, cmd))}") from e
    if check and res.returncode != 0:
        err = (res.stderr or b"").decode(errors="replace").strip()
        out = (res.stdout or b"").decode(errors="replace").strip()
        tail = "\n".join((err or out).splitlines()[-25:])
        raise LabError(f"command failed (exit {res.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return res


def log(msg: str) -> None:
    """Progress goes to stderr so stdout stays machine-readable KEY=value / JSON."""
    print(f"lab: {msg}", file=sys.stderr, flush=True)
