"""The userland of a guest whose architecture is not the host's (arm64).

An x86-64 guest runs the host's own bookworm busybox-static and bpftool. An arm64 guest needs
arm64 builds of the same bookworm packages, and its static lab programs need arm64 static
libraries (libbpf, libelf, zlib) to link against with aarch64-linux-gnu-gcc. Both come from a
project-local apt tree listing the host's release (bookworm) for the guest's architecture,
unpacked with dpkg -x; nothing is installed and the machine's apt configuration is untouched.

Kept in the kernel store, shared by every checkout: <store>/<arch>/userland/{apt/, current/}, with
current/ = {root/ (runtime packages), sysroot/ (-dev packages), manifest.json}. `lab fetch` fills
it (network); `lab up` and the builder only read it.
"""

import json
import os
import shutil
import time
from pathlib import Path

from . import arch, kernel_fetch
from .locks import locked
from .proc import LabError, log, run

# bpftool's own libraries are found by DT_NEEDED inside root/; a NEEDED library that none of
# these packages holds fails the build with its name.
RUNTIME_PACKAGES = ("busybox-static", "bpftool", "libelf1", "zlib1g", "libcap2", "libc6")
SYSROOT_PACKAGES = ("libbpf-dev", "libelf-dev", "zlib1g-dev")
BUSYBOX = "bin/busybox"
BPFTOOL = "usr/sbin/bpftool"
MANIFEST = "manifest.json"
MAX_SYMLINK_HOPS = 40


def userland_dir() -> Path:
    return kernel_fetch.arch_store() / "userland"


def _apt_dir() -> Path:
    return userland_dir() / "apt"


def current_dir() -> Path:
    return userland_dir() / "current"


def _apt_options() -> list:
    return kernel_fetch.apt_options_for(_apt_dir(), arch.current())


# ---------------------------------------------------------------------------------------------
# The apt tree: the host release's suites, from the machine's own apt sources


def _host_lines(suite: str) -> list:
    """deb lines of the machine's entries for suite, suite-updates and suite-security (main)."""
    wanted = (suite, f"{suite}-updates", f"{suite}-security")
    lines = []
    for _f, e in kernel_fetch.host_sources():
        if not e["enabled"] or "deb" not in e["types"] or kernel_fetch.COMPONENT not in e["components"]:
            continue
        signed_by = e["signed_by"]
        keyring = signed_by if signed_by and Path(signed_by).is_file() else kernel_fetch.KEYRING
        for uri in (u for u in e["uris"] if not u.startswith("cdrom:")):
            lines += [f"deb [signed-by={keyring}] {uri.rstrip('/')} {s} {kernel_fetch.COMPONENT}"
                      for s in e["suites"] if s in wanted]
    return lines


def _sources_text() -> str:
    suite = kernel_fetch.host_suite()
    env = os.environ.get("KFREEZE_VM_MIRROR", "").strip()
    if env:
        lines = [f"deb [signed-by={kernel_fetch.KEYRING}] {env.rstrip('/')} {suite} {kernel_fetch.COMPONENT}"]
    else:
        lines = _host_lines(suite)
    if not lines:
        kernel_fetch.mirror()  # raises the lab's "no Debian mirror" error
    return "\n".join(dict.fromkeys(lines)) + "\n"


def _prepare_apt_tree() -> None:
    a = _apt_dir()
    for sub in ("sources.list.d", "preferences.d", "state", "lists/partial", "cache/archives/partial"):
        (a / sub).mkdir(parents=True, exist_ok=True)
    for empty in ("preferences", "status"):
        (a / empty).touch()
    text = _sources_text()
    src = a / "sources.list"
    if not src.exists() or src.read_text() != text:
        src.write_text(text)


def _apt_update() -> None:
    _prepare_apt_tree()
    log(f"apt-get update (project-local {arch.current().deb} userland: {kernel_fetch.host_suite()})")
    run(["apt-get", *_apt_options(), "-q", "update"], timeout=900)
    (_apt_dir() / "updated").write_text(f"{time.time()}\n")


def _ensure_lists(force: bool) -> None:
    stamp = _apt_dir() / "updated"
    fresh = stamp.exists() and time.time() - stamp.stat().st_mtime < kernel_fetch.LISTS_MAX_AGE
    if force or not fresh or not any((_apt_dir() / "lists").glob("*_Packages*")):
        _apt_update()
    else:
        _prepare_apt_tree()


def newest_version(pkg: str) -> str:
    """The newest version of pkg the tree lists (madison prints newest first)."""
    out = run(["apt-cache", *_apt_options(), "madison", pkg]).stdout.decode()
    for line in out.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) >= 3 and fields[0] == pkg and "Packages" in fields[2]:
            return fields[1]
    raise LabError(f"no {arch.current().deb} package {pkg} in the {kernel_fetch.host_suite()} "
                   f"lists of {_apt_dir()}")


# ---------------------------------------------------------------------------------------------
# Download and unpack


def _download(pkg: str, version: str, dest: Path) -> Path:
    run(["apt-get", *_apt_options(), "-q", "download", f"{pkg}={version}"], cwd=dest, timeout=1800)
    debs = sorted(dest.glob(f"{pkg}_*.deb"))
    if len(debs) != 1:
        raise LabError(f"expected one .deb for {pkg}={version} in {dest}, found {debs}")
    return debs[0]


def _unpack_all(versions: dict, tmp: Path) -> None:
    debs = tmp / "debs"
    debs.mkdir()
    for pkg, version in versions.items():
        log(f"apt-get download {pkg}:{arch.current().deb}={version}")
        deb = _download(pkg, version, debs)
        target = tmp / ("root" if pkg in RUNTIME_PACKAGES else "sysroot")
        run(["dpkg", "-x", deb, target])
    shutil.rmtree(debs)


def _install(versions: dict) -> None:
    """Unpacks versions into a temporary dir, then swaps it in as current/."""
    tmp = userland_dir() / f".tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        _unpack_all(versions, tmp)
        manifest = {"arch": arch.current().name, "suite": kernel_fetch.host_suite(), "packages": versions,
                    "fetched": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        old = userland_dir() / f".old-{os.getpid()}"
        if current_dir().exists():
            os.replace(current_dir(), old)
        os.replace(tmp, current_dir())
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def manifest() -> dict:
    """The installed userland's manifest ({} when there is none)."""
    try:
        return json.loads((current_dir() / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def ensure(refresh: bool = False) -> dict:
    """Returns the manifest, downloading the userland when it is missing (or, with refresh,
    when the lists now offer other versions)."""
    with locked(userland_dir() / "userland.lock"):
        have = manifest()
        if have and not refresh:
            return have
        _ensure_lists(force=refresh)
        versions = {p: newest_version(p) for p in RUNTIME_PACKAGES + SYSROOT_PACKAGES}
        if have.get("packages") != versions:
            _install(versions)
            log(f"{arch.current().name} userland in {current_dir()}: "
                + " ".join(f"{p}={v}" for p, v in versions.items()))
        return manifest()


def require() -> dict:
    """The installed userland's manifest; never touches the network."""
    have = manifest()
    if not have:
        raise LabError(f"no {arch.current().name} guest userland in {current_dir()}: run "
                       f"tests/vm/lab fetch{arch.current().lab_option}")
    return have


# ---------------------------------------------------------------------------------------------
# What the initramfs and the builder take from it


def root() -> Path:
    return current_dir() / "root"


def sysroot() -> Path:
    return current_dir() / "sysroot"


def resolve_in_root(guest_path: str) -> Path:
    """The host file behind guest_path inside root/, following symlinks (absolute ones too)
    inside the tree instead of on the host."""
    path = "/" + guest_path.lstrip("/")
    for _ in range(MAX_SYMLINK_HOPS):
        host = root() / path.lstrip("/")
        if not host.is_symlink():
            return host
        target = os.readlink(host)
        # An absolute link means the guest's /, i.e. root/, never the host's.
        path = target if target.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(path),
                                                                                  target))
    raise LabError(f"{guest_path}: too many symlinks in {root()}")


def _elf_deps(host: Path) -> tuple:
    """(NEEDED sonames, interpreter or '') from readelf: no ldd for a foreign binary."""
    prefix = arch.current().cross_prefix
    dyn = run([f"{prefix}readelf", "-d", host]).stdout.decode()
    needed = [line.split("[", 1)[1].rstrip("]") for line in dyn.splitlines()
              if "(NEEDED)" in line and "[" in line]
    hdr = run([f"{prefix}readelf", "-l", host]).stdout.decode()
    interp = ""
    for line in hdr.splitlines():
        if "program interpreter:" in line:
            interp = line.split("program interpreter:", 1)[1].strip().rstrip("]").strip()
    return needed, interp


def _find_library(soname: str) -> str:
    """The guest path of soname in root/, in the dynamic loader's default directories."""
    multiarch = arch.current().multiarch
    for d in (f"lib/{multiarch}", f"usr/lib/{multiarch}", "lib", "usr/lib"):
        if (root() / d / soname).exists() or (root() / d / soname).is_symlink():
            if resolve_in_root(f"{d}/{soname}").is_file():
                return f"{d}/{soname}"
    raise LabError(f"{soname} (needed by bpftool) is in none of {', '.join(RUNTIME_PACKAGES)} "
                   f"unpacked in {root()}: add its package to userland.RUNTIME_PACKAGES")


def shared_libs(binary: str) -> list:
    """[(guest path, host file)] of everything binary (a guest path) loads, interpreter included,
    from DT_NEEDED resolved recursively inside root/."""
    out, todo, seen = {}, [binary], set()
    while todo:
        guest_path = todo.pop()
        needed, interp = _elf_deps(resolve_in_root(guest_path))
        for dep in ([interp.lstrip("/")] if interp else []) + [_find_library(n) for n in needed]:
            if dep not in seen:
                seen.add(dep)
                out[dep] = resolve_in_root(dep)
                todo.append(dep)
    return sorted(out.items())


def busybox_applets(busybox: Path) -> list:
    """Applet names from busybox's applet_names table ("[\\0[[\\0acpid\\0..."): the binary cannot
    run on the host. The table is sorted, so it ends where the order breaks."""
    blob = busybox.read_bytes()
    start = blob.find(b"\0[\0[[\0")
    if start < 0:
        raise LabError(f"{busybox}: no applet table found")
    names = []
    for raw in blob[start + 1:].split(b"\0"):
        name = raw.decode("ascii", errors="replace")
        if not name or (names and name <= names[-1]) or not name.isprintable() or " " in name:
            break
        names.append(name)
    for must in ("sh", "mount", "init", "base64", "stty", "usleep"):
        if must not in names:
            raise LabError(f"{busybox}: applet table without {must!r} ({len(names)} names read)")
    return names
