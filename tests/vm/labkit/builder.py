"""Keeps the per-kernel build outputs (BPF objects, workloads, base initramfs) up to date.

Outputs are rebuilt when any input changes (sources under tests/vm, the host's busybox/bpftool
or, for arm64, the guest userland's package versions, the kernel), judged by a digest of those
inputs, so an edited BPF program never boots stale.
"""

import hashlib
import json
from pathlib import Path

from . import arch, bpf_build, initramfs, kernel_fetch, paths, userland
from .locks import locked
from .proc import log

BUILD_FORMAT = 1


def _tools(guest: arch.Arch) -> list:
    """Host files the outputs are built from (their size and mtime go into the digest)."""
    return [initramfs.BUSYBOX, initramfs.BPFTOOL] if guest.native else []


def _digest(kernel: dict) -> str:
    guest = arch.current()
    h = hashlib.sha256(f"format={BUILD_FORMAT} release={kernel['release']}\n".encode())
    if not guest.native:
        h.update(json.dumps(userland.require(), sort_keys=True).encode())
    here = Path(__file__).parent
    sources = [here / f for f in ("builder.py", "bpf_build.py", "initramfs.py", "cpio.py", "arch.py",
                                  "userland.py")]
    for d in (paths.BPF_SRC_DIR, paths.GUEST_SRC_DIR, paths.GUESTBIN_SRC_DIR):
        sources += sorted(p for p in d.iterdir() if p.is_file())
    for p in sources:
        h.update(f"{p.relative_to(paths.VM_DIR)}\n".encode())
        h.update(p.read_bytes())
    for tool in (*_tools(guest), Path(kernel["vmlinux"])):
        st = tool.stat()
        h.update(f"{tool} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_dir(kernel: dict) -> Path:
    return paths.cache_dir() / "build" / kernel["release"]


def ensure_built(kernel: dict = None) -> dict:
    """Returns {'kernel': ..., 'build_dir': ..., 'initramfs': ...}, rebuilding if stale."""
    with locked(paths.cache_dir() / "build.lock"):
        kernel = kernel or kernel_fetch.selected_kernel()
        out = build_dir(kernel)
        stamp = out / "stamp.json"
        digest = _digest(kernel)
        base = out / "initramfs-base.cpio.gz"
        current = json.loads(stamp.read_text()) if stamp.exists() else {}
        if current.get("digest") != digest or not base.exists():
            log(f"building BPF objects, workloads and initramfs for {kernel['release']}")
            out.mkdir(parents=True, exist_ok=True)
            stamp.unlink(missing_ok=True)
            bpf_build.build(kernel, out)
            initramfs.build_base(out, base)
            stamp.write_text(json.dumps({"digest": digest}) + "\n")
        return {"kernel": kernel, "build_dir": out, "initramfs": base}
