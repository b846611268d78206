"""Host side of the guest command channel (protocol described in tests/vm/guest/cmdloop).

QEMU serves the guest's second serial port as a unix socket; one client at a time, so callers
hold the guest's channel lock around a request.
"""

import base64
import os
import socket
import time
from pathlib import Path

from .proc import LabError

RECV_CHUNK = 65536


class CommandResult:
    def __init__(self, rc: int, stdout: bytes, stderr: bytes):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


def _request_id() -> str:
    return f"{os.getpid()}-{time.monotonic_ns()}"


def _parse_reply(lines: list, rid: str) -> CommandResult:
    out, err, section, rc = [], [], None, None
    for line in lines:
        if line == f"@@KFREEZE-OUT {rid}":
            section = out
        elif line == f"@@KFREEZE-ERR {rid}":
            section = err
        elif line.startswith(f"@@KFREEZE-END {rid} "):
            rc = int(line.split()[2])
            break
        elif section is not None:
            section.append(line)
    if rc is None:
        raise LabError("command channel: reply without end marker")
    decode = lambda chunk: base64.b64decode("".join(chunk)) if chunk else b""
    return CommandResult(rc, decode(out), decode(err))


def run_script(sock_path: Path, script: str, timeout: float) -> CommandResult:
    """Runs `script` with the guest's /bin/sh and returns its exit status and output."""
    rid = _request_id()
    payload = base64.b64encode(script.encode()).decode()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(max(1.0, timeout))
        try:
            s.connect(str(sock_path))
        except OSError as e:
            raise LabError(f"command channel {sock_path}: {e} (is the guest up?)") from e
        s.sendall(f"{rid} {payload}\n".encode())
        buf = bytearray()
        end = f"@@KFREEZE-END {rid} ".encode()
        scanned = 0
        idx = -1
        while True:
            # Bytes from an earlier, abandoned request may precede ours; the id tells them apart.
            if idx < 0:
                idx = buf.find(end, max(0, scanned - len(end)))
                scanned = len(buf)
            if idx >= 0 and buf.find(b"\n", idx) >= 0:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(f"command channel: no reply within {timeout}s")
            s.settimeout(left)
            try:
                chunk = s.recv(RECV_CHUNK)
            except socket.timeout:
                continue
            if not chunk:
                raise LabError("command channel closed by QEMU (guest gone?)")
            buf += chunk
    lines = [ln.rstrip("\r") for ln in buf.decode(errors="replace").split("\n")]
    return _parse_reply(lines, rid)
