"""The guest's userland: busybox-static, bookworm bpftool and its libraries, the lab's scripts,
BPF objects and workloads (base image, built once) plus a per-guest overlay with the scenario.

x86-64 guests take busybox and bpftool from the host; arm64 guests from the arm64 packages of
labkit/userland.py. Linux accepts concatenated gzip'd cpio archives, so a guest's initrd is
base + overlay.
"""

import re
import shlex
import shutil
import struct
from pathlib import Path

from . import arch, paths, userland
from .cpio import CpioWriter
from .proc import LabError, run

BUSYBOX = Path("/bin/busybox")
BPFTOOL = Path("/usr/sbin/bpftool")
GUEST_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "lib64", "lib/x86_64-linux-gnu", "etc", "proc",
              "sys", "dev", "tmp", "run", "root", "lab/bpf", "lab/bin")
# Where the dynamic loader and bpftool's libraries live, per architecture (x86-64: as above).
LIB_DIRS = {"x86_64": ("lib64", "lib/x86_64-linux-gnu"), "arm64": ("lib", "lib/aarch64-linux-gnu")}
INITTAB = "inittab"
LDD_PATH_RE = re.compile(r"(/\S+) \(0x")
PT_INTERP = 3


def _shared_libs(binary: Path) -> list:
    out = run(["ldd", binary]).stdout.decode()
    libs = [m.group(1) for m in LDD_PATH_RE.finditer(out)]
    if not libs:
        raise LabError(f"ldd {binary}: no libraries found\n{out}")
    return libs


def _is_static_elf(path: Path) -> bool:
    """An ELF without a PT_INTERP program header needs no dynamic loader."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit only
        return False
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != PT_INTERP for i in range(phnum))


def _guest_dirs(guest: arch.Arch) -> tuple:
    dirs = list(GUEST_DIRS)
    i = dirs.index("lib64")
    dirs[i:i + 2] = LIB_DIRS[guest.name]
    return tuple(dirs)


def _host_userland() -> dict:
    """x86-64: the host's busybox-static and bpftool, with the libraries ldd lists."""
    if not BUSYBOX.exists() or not _is_static_elf(BUSYBOX):
        raise LabError(f"{BUSYBOX} is not busybox-static: run deploy/install-deps.sh")
    return {"busybox": BUSYBOX, "applets": run([BUSYBOX, "--list"]).stdout.decode().split(),
            "bpftool": BPFTOOL, "libs": [(lib, Path(lib).resolve()) for lib in _shared_libs(BPFTOOL)]}


def _foreign_userland() -> dict:
    """arm64: the same bookworm packages for the guest's architecture (labkit/userland.py)."""
    userland.require()
    busybox = userland.resolve_in_root(userland.BUSYBOX)
    if not _is_static_elf(busybox):
        raise LabError(f"{busybox} is not busybox-static")
    return {"busybox": busybox, "applets": userland.busybox_applets(busybox),
            "bpftool": userland.resolve_in_root(userland.BPFTOOL),
            "libs": userland.shared_libs(userland.BPFTOOL)}


def _inittab_name(guest: arch.Arch) -> str:
    """inittab for x86-64, inittab.<arch> for the others (their consoles differ)."""
    return INITTAB if guest.native else f"{INITTAB}.{guest.name}"


def build_base(build_dir: Path, out: Path) -> None:
    guest = arch.current()
    tools = _host_userland() if guest.native else _foreign_userland()
    w = CpioWriter()
    for d in _guest_dirs(guest):
        w.dir(d)
    # The kernel opens /dev/console for /init before devtmpfs is mounted.
    w.chardev("dev/console", 5, 1)
    w.chardev("dev/null", 1, 3, 0o666)
    w.file("bin/busybox", tools["busybox"].read_bytes(), 0o755)
    for applet in tools["applets"]:
        if applet != "busybox":
            w.symlink(f"bin/{applet}", "busybox")
    w.file("usr/sbin/bpftool", tools["bpftool"].read_bytes(), 0o755)
    for lib, host in tools["libs"]:
        w.file(lib, host.read_bytes(), 0o755)
    w.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
    w.file("etc/group", b"root:x:0:\n")
    inittab = _inittab_name(guest)
    for src in sorted(paths.GUEST_SRC_DIR.iterdir()):
        if src.name == "init":
            w.file("init", src.read_bytes(), 0o755)
        elif src.name == inittab:
            w.file("etc/inittab", src.read_bytes())
        elif src.name.startswith(INITTAB):
            continue  # another architecture's
        else:
            w.file(f"lab/{src.name}", src.read_bytes(), 0o755)
    for obj in sorted((build_dir / "bpf").glob("*.o")):
        w.file(f"lab/bpf/{obj.name}", obj.read_bytes())
    for exe in sorted((build_dir / "bin").iterdir()):
        w.file(f"lab/bin/{exe.name}", exe.read_bytes(), 0o755)
    # Atomic: a concurrent `lab up` may be copying the previous base image.
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(w.gzipped())
    tmp.replace(out)


PARAMS_FILE = "lab/params.env"


def params_env(params: dict) -> bytes:
    """`lab up --param` as shell: one `LAB_PARAM_<KEY>='value'` export a line, for `. /lab/params.env`."""
    lines = ["# lab up --param: scenario parameters"]
    lines += [f"export LAB_PARAM_{key.upper()}={shlex.quote(str(value))}" for key, value in sorted(params.items())]
    return ("\n".join(lines) + "\n").encode()


def build_overlay(scenario: Path, extra_files: list, out: Path, params: dict = None) -> None:
    """extra_files: (host path, guest path) pairs from `lab up --add`; params: `lab up --param`
    (always written, empty when none, so a scenario can source the file unconditionally)."""
    w = CpioWriter()
    w.file("lab/scenario", scenario.read_bytes(), 0o755)
    w.file(PARAMS_FILE, params_env(params or {}), 0o644)
    for host, guest in extra_files:
        mode = 0o755 if host.stat().st_mode & 0o111 else 0o644
        w.file(guest, host.read_bytes(), mode)
    out.write_bytes(w.gzipped())


def assemble(base: Path, overlay: Path, out: Path) -> None:
    with open(out, "wb") as dst:
        for part in (base, overlay):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, dst)
