"""Where the lab keeps things: the repo, the shared kernel store, the per-checkout cache (build
outputs, kernel selection) and per-guest run dirs."""

import hashlib
import os
from pathlib import Path

VM_DIR = Path(__file__).resolve().parent.parent
REPO = VM_DIR.parent.parent
BPF_SRC_DIR = VM_DIR / "bpf"
GUEST_SRC_DIR = VM_DIR / "guest"
GUESTBIN_SRC_DIR = VM_DIR / "guestbin"
SCENARIO_DIR = VM_DIR / "scenarios"

# Unix socket paths must fit in sun_path (108 bytes including the NUL).
MAX_SOCKET_PATH = 100


def cache_dir() -> Path:
    """Per-checkout state: build outputs, the kernel selection, guest run dirs
    (default: <repo>/build/vm-cache)."""
    env = os.environ.get("KFREEZE_VM_CACHE")
    path = Path(env) if env else REPO / "build" / "vm-cache"
    return path.resolve()


def kernel_store() -> Path:
    """Downloads shared by every checkout and build dir on this machine: the project-local apt
    state and the unpacked kernels (default: ${XDG_CACHE_HOME:-~/.cache}/kfreeze/vm)."""
    env = os.environ.get("KFREEZE_KERNEL_CACHE")
    if env:
        return Path(env).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return (base / "kfreeze" / "vm").resolve()


def namespace_tag() -> str:
    """Short tag unique to this cache dir, so two checkouts on one machine never share guest files."""
    return hashlib.sha256(str(cache_dir()).encode()).hexdigest()[:8]


def run_root() -> Path:
    return cache_dir() / "run"


def run_dir(name: str) -> Path:
    return run_root() / name


def socket_dir(name: str) -> Path:
    """Sockets live in the run dir unless that path is too long for a unix socket."""
    rdir = run_dir(name)
    if len(str(rdir / "qmp.sock")) <= MAX_SOCKET_PATH:
        return rdir
    return Path("/tmp") / f"kfreeze-vm-{namespace_tag()}" / name


def ram_file(name: str) -> Path:
    return Path("/dev/shm") / f"kfreeze-{namespace_tag()}-{name}.ram"
