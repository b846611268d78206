"""Fetch Debian's newest 7.x cloud kernel with a project-local apt configuration.

The machine's own apt configuration is never touched and nothing is installed: apt-get only
downloads the .deb into the cache, dpkg -x unpacks it there. The suites (trixie, trixie-backports,
sid) need glibc newer than bookworm's, which is why installing from them is forbidden.
"""

import json
import os
import re
import shutil
from pathlib import Path

from . import paths
from .proc import LabError, log, run

SUITES = ("trixie", "trixie-backports", "sid")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Signed cloud kernel image package, e.g. linux-binary-7.3.4+deb13-cloud-amd64.
BINARY_PKG_RE = re.compile(r"^linux-binary-(?P<upstream>\d+(?:\.\d+)+)\+(?P<abi>deb\d+)-cloud-amd64$")
DEFAULT_MAJOR = "7."
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def apt_dir() -> Path:
    return paths.cache_dir() / "apt"


def kernels_dir() -> Path:
    return paths.cache_dir() / "kernel"


def _apt_options() -> list:
    """-o options that point every piece of apt state into the cache (and away from /etc/apt)."""
    a = apt_dir()
    return [
        "-o", f"Dir::Etc::SourceList={a / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={a / 'sources.list.d'}",
        "-o", f"Dir::Etc::Preferences={a / 'preferences'}",
        "-o", f"Dir::Etc::PreferencesParts={a / 'preferences.d'}",
        "-o", f"Dir::State={a / 'state'}",
        "-o", f"Dir::State::Lists={a / 'lists'}",
        "-o", f"Dir::State::status={a / 'status'}",
        "-o", f"Dir::Cache={a / 'cache'}",
        "-o", "APT::Architectures=amd64",
        "-o", "APT::Default-Release=",
        "-o", "Acquire::Languages=none",
        # Downloads land in the cache; the _apt sandbox user may not be able to write there.
        "-o", "APT::Sandbox::User=root",
    ]


def _prepare_apt_tree() -> None:
    a = apt_dir()
    for sub in ("sources.list.d", "preferences.d", "state", "lists/partial", "cache/archives/partial"):
        (a / sub).mkdir(parents=True, exist_ok=True)
    for empty in ("preferences", "status"):
        (a / empty).touch()
    mirror = os.environ.get("KFREEZE_VM_MIRROR", DEFAULT_MIRROR)
    lines = [f"deb [signed-by={KEYRING}] {mirror} {suite} main" for suite in SUITES]
    (a / "sources.list").write_text("\n".join(lines) + "\n")


def apt_update() -> None:
    _prepare_apt_tree()
    log(f"apt-get update (project-local sources: {', '.join(SUITES)})")
    run(["apt-get", *_apt_options(), "-q", "update"], timeout=600)


def _version_key(upstream: str, abi: str):
    return (tuple(int(x) for x in upstream.split(".")), int(abi[3:]))


def resolve_package() -> str:
    """Newest linux-binary-<7.x>-cloud-amd64 the suites offer (KFREEZE_VM_KERNEL narrows the choice)."""
    wanted = os.environ.get("KFREEZE_VM_KERNEL", "")
    res = run(["apt-cache", *_apt_options(), "pkgnames", "linux-binary-"])
    candidates = []
    for name in res.stdout.decode().split():
        m = BINARY_PKG_RE.match(name)
        if not m:
            continue
        version = f"{m['upstream']}+{m['abi']}"
        if wanted and not version.startswith(wanted):
            continue
        if not wanted and not version.startswith(DEFAULT_MAJOR):
            continue
        candidates.append((_version_key(m["upstream"], m["abi"]), name))
    if not candidates:
        want = wanted or DEFAULT_MAJOR + "x"
        raise LabError(f"no linux-binary-{want}*-cloud-amd64 package in {', '.join(SUITES)} "
                       f"(mirror {os.environ.get('KFREEZE_VM_MIRROR', DEFAULT_MIRROR)})")
    candidates.sort()
    return candidates[-1][1]


def find_zstd_elf(vmlinuz: Path, out: Path) -> None:
    """The bzImage payload is a zstd stream; the first occurrence that decompresses to an ELF wins."""
    blob = vmlinuz.read_bytes()
    start = 0
    while True:
        off = blob.find(ZSTD_MAGIC, start)
        if off < 0:
            raise LabError(f"no zstd payload that decompresses to an ELF in {vmlinuz}")
        # zstd complains about the bytes after the frame; judge by the output, not the exit code.
        res = run(["zstd", "-dcq"], input_bytes=blob[off:], check=False)
        if res.stdout[:4] == b"\x7fELF":
            out.write_bytes(res.stdout)
            return
        start = off + 1


def _unpack(pkg: str, kdir: Path) -> dict:
    dl = kdir / "deb"
    dl.mkdir(parents=True, exist_ok=True)
    for old in dl.glob("*.deb"):
        old.unlink()
    log(f"apt-get download {pkg}")
    run(["apt-get", *_apt_options(), "-q", "download", pkg], cwd=dl, timeout=900)
    debs = list(dl.glob("*.deb"))
    if len(debs) != 1:
        raise LabError(f"expected one .deb for {pkg} in {dl}, found {debs}")
    root = kdir / "root"
    shutil.rmtree(root, ignore_errors=True)
    run(["dpkg", "-x", debs[0], root])
    images = sorted(root.glob("usr/lib/modules/*/vmlinuz")) + sorted(root.glob("boot/vmlinuz-*"))
    if not images:
        raise LabError(f"{pkg} holds no vmlinuz (looked in usr/lib/modules/*/ and boot/)")
    image = images[0]
    release = image.parent.name if image.name == "vmlinuz" else image.name[len("vmlinuz-"):]
    shutil.copyfile(image, kdir / "vmlinuz")
    shutil.rmtree(root)
    find_zstd_elf(kdir / "vmlinuz", kdir / "vmlinux")
    version = run(["dpkg-deb", "-f", debs[0], "Version"]).stdout.decode().strip()
    return {"package": pkg, "version": version, "release": release, "deb": debs[0].name}


def selected_file() -> Path:
    return kernels_dir() / "selected.json"


def selected_kernel() -> dict:
    """The kernel `lab fetch` chose, with absolute paths; raises if nothing was fetched yet."""
    sel = selected_file()
    if not sel.exists():
        raise LabError(f"no kernel fetched into {paths.cache_dir()}: run tests/vm/lab fetch "
                       "(needs network access to a Debian mirror)")
    info = json.loads(sel.read_text())
    kdir = kernels_dir() / info["release"]
    info["dir"] = str(kdir)
    info["vmlinuz"] = str(kdir / "vmlinuz")
    info["vmlinux"] = str(kdir / "vmlinux")
    for key in ("vmlinuz", "vmlinux"):
        if not Path(info[key]).exists():
            raise LabError(f"cached kernel incomplete ({info[key]} missing): run tests/vm/lab fetch --refresh")
    return info


def fetch(refresh: bool = False) -> dict:
    """Resolve, download and unpack the kernel unless a complete one is already cached."""
    if not refresh and selected_file().exists():
        try:
            info = selected_kernel()
            wanted = os.environ.get("KFREEZE_VM_KERNEL", "")
            if not wanted or info["release"].startswith(wanted):
                return info
        except LabError:
            pass
    apt_update()
    pkg = resolve_package()
    m = BINARY_PKG_RE.match(pkg)
    kdir = kernels_dir() / f"{m['upstream']}+{m['abi']}-cloud-amd64"
    info = _unpack(pkg, kdir)
    if kdir.name != info["release"]:
        raise LabError(f"{pkg}: unpacked release {info['release']} does not match the package name")
    (kdir / "kernel.json").write_text(json.dumps(info, indent=1) + "\n")
    selected_file().write_text(json.dumps(info, indent=1) + "\n")
    log(f"kernel {info['release']} ({pkg} {info['version']}) unpacked in {kdir}")
    return selected_kernel()
