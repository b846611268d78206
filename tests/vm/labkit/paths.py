"""Where the lab keeps things: the repo, the cache (kernel, build outputs) and per-guest run dirs."""

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
    """Everything the lab downloads or builds lives here (default: <repo>/build/vm-cache)."""
    env = os.environ.get("KFREEZE_VM_CACHE")
    path = Path(env) if env else REPO / "build" / "vm-cache"
    return path.resolve()


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
