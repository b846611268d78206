"""Build Debian's 6.12 LTS kernel from its source package, with sched_ext, for the lab.

Debian's 6.12 kernels (trixie) are built without CONFIG_SCHED_CLASS_EXT, so the lab cannot use
the binary packages of that line. This module builds one from Debian's own source package instead:

1. `apt-get source --download-only linux=<6.12.*>` from trixie with kernel_fetch's project-local
   apt configuration (its deb-src lines; the machine's /etc/apt is never touched, nothing is
   installed), newest version first, falling back to older ones the mirror really has;
2. `dpkg-source -x` (unpacks the upstream tarball and applies Debian's quilt series);
3. `make defconfig` + `make kvm_guest.config` + kconfig-6.12-lab.config (merge_config.sh), the
   release string, `make olddefconfig`; every symbol the fragment sets is then checked;
4. `nice -n 19 make -jN bzImage`;
5. installs vmlinuz (the bzImage) and vmlinux (the ELF, debug info stripped, .BTF and the symbol
   table kept) plus kernel.json, config and System.map into the kernel dir, the same layout
   kernel_fetch's unpacked packages have.

Sources and the object tree live in the build root (default <kernel store>/kernel-build,
KFREEZE_VM_KBUILD overrides), never in the repository's build dir; a rebuild after a fragment
change is incremental. One lock file in the build root serializes builds, so concurrent lab runs
build once and the others reuse the result. `lab fetch --kernel 6.12` (kernel_fetch.fetch) calls
build_612().

Host tools (bookworm packages, `deploy/install-deps.sh --kernel-build`): build-essential flex bison
bc libelf-dev libssl-dev dwarves (pahole >= 1.16 for DEBUG_INFO_BTF; bookworm's 1.24 works)
dpkg-dev cpio zstd bpftool. The mirror is kernel_fetch.mirror()'s (the machine's own apt sources,
KFREEZE_VM_MIRROR overrides it).
"""

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from . import kernel_fetch, paths
from .locks import locked
from .proc import LabError, log, run

SOURCE_PACKAGE = "linux"
# The suite of kernel_fetch.SUITES whose deb-src carries the 6.12 line (recorded in kernel.json).
SOURCE_SUITE = "trixie"
SERIES = "6.12"
FRAGMENT = Path(__file__).resolve().with_name("kconfig-6.12-lab.config")
# Appended to Debian's ABI name (6.12.107+deb13) to form the release: 6.12.107+deb13-kfreeze-lab.
FLAVOUR = "kfreeze-lab"
ARCH = "x86_64"
# Bump when the recipe below changes in a way that must rebuild cached kernels.
RECIPE = 1
RECIPE_TEXT = f"recipe={RECIPE} arch={ARCH} defconfig kvm_guest.config fragment localversion olddefconfig bzImage"
# Config symbols checked on top of the fragment's own lines (selected, not set, by it).
EXTRA_REQUIRED = {"CONFIG_VMCORE_INFO": "y", "CONFIG_DEBUG_INFO_BTF": "y", "CONFIG_SCHED_CLASS_EXT": "y"}
MIN_PAHOLE = (1, 16)
TOOLS = ("make", "gcc", "ld", "flex", "bison", "bc", "pahole", "dpkg-source", "objcopy", "bpftool",
         "apt-get", "cpio", "zstd", "perl")
HEADERS = ("/usr/include/gelf.h", "/usr/include/openssl/ssl.h")
# deploy/install-deps.sh --kernel-build installs these (keep the two lists in step).
BOOKWORM_PACKAGES = "build-essential flex bison bc libelf-dev libssl-dev dwarves dpkg-dev cpio zstd bpftool"
INSTALL_HINT = (f"run deploy/install-deps.sh --kernel-build "
                f"(apt-get install -t bookworm {BOOKWORM_PACKAGES})")


# ---------------------------------------------------------------------------------------------
# Places


def build_root() -> Path:
    env = os.environ.get("KFREEZE_VM_KBUILD")
    return Path(env).resolve() if env else paths.kernel_store() / "kernel-build"


def _src_dir() -> Path:
    return build_root() / "src"


def _obj_dir(version: str) -> Path:
    return build_root() / f"obj-{version}"


def _log_dir() -> Path:
    return build_root() / "logs"


# ---------------------------------------------------------------------------------------------
# Source versions (kernel_fetch's apt tree: its lists include the Sources indices)


def _compare_versions(a: str, b: str) -> int:
    if a == b:
        return 0
    lt = subprocess.run(["dpkg", "--compare-versions", a, "lt", b]).returncode == 0
    return -1 if lt else 1


def source_versions(wanted: str = SERIES) -> list:
    """Versions of the linux source package the lists offer that match wanted, newest first."""
    res = run(["apt-cache", *kernel_fetch.apt_options(), "showsrc", SOURCE_PACKAGE], check=False)
    versions = set()
    package = None
    for line in res.stdout.decode(errors="replace").splitlines():
        if line.startswith("Package:"):
            package = line.split(":", 1)[1].strip()
        elif line.startswith("Version:") and package == SOURCE_PACKAGE:
            versions.add(line.split(":", 1)[1].strip())
    hits = [v for v in versions if kernel_fetch.matches(v, wanted)]
    return sorted(hits, key=functools.cmp_to_key(_compare_versions), reverse=True)


def source_version_of(wanted: str) -> str:
    """The Debian source version prefix for a wanted kernel: a release or ABI name
    (6.12.107+deb13-kfreeze-lab, 6.12.107+deb13) becomes its upstream version (6.12.107);
    a version or prefix (6.12, 6.12.107-1) stays as it is."""
    m = re.match(r"^(\d+(?:\.\d+)+)\+deb\d+(?:-.*)?$", wanted or "")
    return m.group(1) if m else (wanted or SERIES)


# ---------------------------------------------------------------------------------------------
# Steps


def _check_tools() -> None:
    missing = [t for t in TOOLS if not shutil.which(t)]
    missing += [h for h in HEADERS if not Path(h).exists()]
    if missing:
        raise LabError(f"building the {SERIES} lab kernel needs {', '.join(missing)}: {INSTALL_HINT}")
    out = run(["pahole", "--version"]).stdout.decode().strip()
    m = re.match(r"v?(\d+)\.(\d+)", out)
    if not m or (int(m[1]), int(m[2])) < MIN_PAHOLE:
        raise LabError(f"pahole {out} is too old for CONFIG_DEBUG_INFO_BTF (needs >= 1.16): "
                       f"{INSTALL_HINT}")


def _tool_versions() -> dict:
    def first_line(cmd):
        try:
            return run(cmd).stdout.decode(errors="replace").splitlines()[0].strip()
        except (LabError, IndexError):
            return "?"
    return {"gcc": first_line(["gcc", "--version"]), "pahole": first_line(["pahole", "--version"]),
            "ld": first_line(["ld", "--version"])}


def _run_logged(cmd, logfile: Path, cwd=None, env=None, timeout=None) -> None:
    """Runs cmd with its output in logfile (a kernel build says too much for memory and stderr)."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        try:
            rc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except FileNotFoundError as e:
            raise LabError(f"command not found: {cmd[0]} ({e}); {INSTALL_HINT}") from e
        except subprocess.TimeoutExpired as e:
            raise LabError(f"command timed out after {timeout}s: {' '.join(map(str, cmd))} "
                           f"(log {logfile})") from e
    if rc != 0:
        tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-30:])
        raise LabError(f"command failed (exit {rc}): {' '.join(map(str, cmd))}\nlog: {logfile}\n{tail}")


def _dsc_files(dsc: Path) -> dict:
    """{file name: sha256} from the dsc's Checksums-Sha256 field."""
    out, inside = {}, False
    for line in dsc.read_text(errors="replace").splitlines():
        if line.startswith("Checksums-Sha256:"):
            inside = True
            continue
        if inside:
            if not line.startswith(" "):
                break
            parts = line.split()
            if len(parts) == 3:
                out[parts[2]] = parts[0]
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _have_source(version: str) -> bool:
    dsc = _src_dir() / _dsc_name(version)
    if not dsc.exists():
        return False
    files = _dsc_files(dsc)
    return bool(files) and all((_src_dir() / n).exists() and _sha256(_src_dir() / n) == s
                               for n, s in files.items())


def _dsc_name(version: str) -> str:
    return f"{SOURCE_PACKAGE}_{version.split(':', 1)[-1]}.dsc"


def _download(candidates: list, wanted: str, just_updated: bool) -> str:
    """Downloads the newest candidate the mirror really has (a list may name files a mirror
    lacks); returns its version."""
    src = _src_dir()
    src.mkdir(parents=True, exist_ok=True)
    errors = []
    for attempt in range(2):
        for version in candidates:
            if _have_source(version):
                log(f"source package {SOURCE_PACKAGE} {version} already downloaded in {src}")
                return version
            log(f"apt-get source --download-only {SOURCE_PACKAGE}={version}")
            with kernel_fetch.apt_lock():
                res = run(["apt-get", *kernel_fetch.apt_options(), "-q", "source", "--download-only",
                           f"{SOURCE_PACKAGE}={version}"], cwd=src, timeout=3600, check=False)
            if res.returncode == 0 and _have_source(version):
                return version
            err = [ln for ln in res.stderr.decode(errors="replace").splitlines() if ln.startswith("E:")]
            errors.append(f"{version}: {err[0] if err else 'exit ' + str(res.returncode)}")
            log(f"{SOURCE_PACKAGE} {version} not downloadable ({errors[-1]}); trying an older one")
        if just_updated or attempt:
            break
        kernel_fetch.apt_update()
        just_updated = True
        candidates = source_versions(wanted) or candidates
    raise LabError(f"no {SOURCE_PACKAGE} {wanted} source package could be downloaded from "
                   f"{kernel_fetch.mirror()[0]}:\n" + "\n".join(errors))


def _unpack(version: str) -> Path:
    """dpkg-source -x (applies Debian's patch series); reuses a complete earlier unpack."""
    upstream = version.split(":", 1)[-1].rsplit("-", 1)[0]
    tree = _src_dir() / f"{SOURCE_PACKAGE}-{version.split(':', 1)[-1]}"
    stamp = tree / ".kfreeze-unpacked"
    if stamp.exists():
        log(f"source tree {tree} already unpacked")
        return tree
    tmp = _src_dir() / f".tmp-unpack-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(tree, ignore_errors=True)
    log(f"dpkg-source -x {_dsc_name(version)} (upstream {upstream} + Debian's patches)")
    try:
        _run_logged(["nice", "-n", "19", "dpkg-source", "-x", _dsc_name(version), tmp.name],
                    _log_dir() / f"{version}-unpack.log", cwd=_src_dir(), timeout=3600)
        os.replace(tmp, tree)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stamp.write_text(f"{version}\n")
    return tree


def abi_name(tree: Path) -> str:
    """Debian's ABI name of the tree (6.12.107+deb13), from the package names in debian/control."""
    control = (tree / "debian" / "control").read_text(errors="replace")
    m = re.search(r"^Package: linux-image-(\S+?)-cloud-amd64-unsigned$", control, re.M) or \
        re.search(r"^Package: linux-headers-(\d\S*?)-common$", control, re.M)
    if not m:
        raise LabError(f"cannot find Debian's ABI name in {tree / 'debian/control'}")
    return m.group(1)


def _kernel_version(tree: Path) -> str:
    """VERSION.PATCHLEVEL.SUBLEVEL from the top Makefile."""
    head = (tree / "Makefile").read_text(errors="replace")[:2000]
    parts = [re.search(rf"^{key}\s*=\s*(\d+)", head, re.M) for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL")]
    if not all(parts):
        raise LabError(f"cannot read the kernel version from {tree / 'Makefile'}")
    return ".".join(m.group(1) for m in parts)


def fingerprint() -> str:
    """What a cached build must match besides the version: the fragment and the recipe."""
    h = hashlib.sha256(f"{RECIPE_TEXT}\n".encode())
    h.update(FRAGMENT.read_bytes())
    return h.hexdigest()


def _fragment_settings() -> dict:
    """{CONFIG_X: value} for `CONFIG_X=value` lines, 'n' for `# CONFIG_X is not set` lines."""
    want = {}
    for line in FRAGMENT.read_text().splitlines():
        line = line.strip()
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            want[m[1]] = m[2]
            continue
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            want[m[1]] = "n"
    return want


def _read_config(path: Path) -> dict:
    got = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            got[m[1]] = m[2]
    return got


def verify_config(config: Path, localversion: str) -> None:
    """Every symbol the fragment sets (and EXTRA_REQUIRED) has that value after olddefconfig."""
    want = dict(_fragment_settings())
    want.update(EXTRA_REQUIRED)
    want["CONFIG_LOCALVERSION"] = f'"{localversion}"'
    got = _read_config(config)
    bad = []
    for sym, value in sorted(want.items()):
        have = got.get(sym, "n")
        if have != value:
            bad.append(f"{sym}: wanted {value}, olddefconfig left {have}")
    if bad:
        raise LabError(f"kernel config {config} lacks required settings (a dependency is missing; "
                       f"see {FRAGMENT.name}):\n" + "\n".join(bad))


def _make(tree: Path, obj: Path, *targets, jobs: int = 1) -> list:
    return ["nice", "-n", "19", "make", "-C", tree, f"O={obj}", f"ARCH={ARCH}",
            "KBUILD_BUILD_USER=kfreeze", "KBUILD_BUILD_HOST=lab", f"-j{jobs}", *targets]


def _configure(tree: Path, version: str, localversion: str) -> Path:
    """Generates the config in a scratch object dir and copies it into the build's object dir
    only when it differs, so an unchanged config never dirties an incremental build."""
    obj = _obj_dir(version)
    scratch = build_root() / f".cfg-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    logf = _log_dir() / f"{version}-config.log"
    logf.unlink(missing_ok=True)
    try:
        _run_logged(_make(tree, scratch, "defconfig"), logf, timeout=1800)
        _run_logged(_make(tree, scratch, "kvm_guest.config"), logf, timeout=1800)
        _run_logged(["nice", "-n", "19", tree / "scripts/kconfig/merge_config.sh", "-m", "-O", scratch,
                     scratch / ".config", FRAGMENT], logf, cwd=scratch, timeout=600)
        _run_logged([tree / "scripts/config", "--file", scratch / ".config",
                     "--set-str", "LOCALVERSION", localversion, "--disable", "LOCALVERSION_AUTO"],
                    logf, timeout=600)
        _run_logged(_make(tree, scratch, "olddefconfig"), logf, timeout=1800)
        verify_config(scratch / ".config", localversion)
        obj.mkdir(parents=True, exist_ok=True)
        new = (scratch / ".config").read_bytes()
        if not (obj / ".config").exists() or (obj / ".config").read_bytes() != new:
            log(f"kernel config changed: {obj / '.config'}")
            (obj / ".config").write_bytes(new)
        else:
            log(f"kernel config unchanged: {obj / '.config'}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return obj


def _build(tree: Path, obj: Path, version: str, localversion: str, jobs: int) -> None:
    logf = _log_dir() / f"{version}-build.log"
    logf.unlink(missing_ok=True)
    log(f"nice -n 19 make -j{jobs} bzImage in {obj} (log {logf}; ~40 min from scratch on 2 cores)")
    _run_logged(_make(tree, obj, "olddefconfig"), logf, timeout=1800)
    verify_config(obj / ".config", localversion)
    _run_logged(_make(tree, obj, "bzImage", jobs=jobs), logf, timeout=6 * 3600)


def _install(obj: Path, kdir: Path, info: dict) -> dict:
    """Copies the results into kdir atomically (a temporary sibling renamed into place)."""
    release = (obj / "include/config/kernel.release").read_text().strip()
    if release != info["release"]:
        raise LabError(f"built release {release} differs from the expected {info['release']}")
    kdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = kdir.parent / f".tmp-{kdir.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        shutil.copyfile(obj / "arch/x86/boot/bzImage", tmp / "vmlinuz")
        # The ELF with .BTF, .BTF_ids and the symbol table, like the one kernel_fetch extracts
        # from a packaged bzImage (the DWARF stays in the object dir's vmlinux).
        run(["objcopy", "--strip-debug", obj / "vmlinux", tmp / "vmlinux"], timeout=600)
        if not kernel_fetch.has_sched_ext(tmp / "vmlinux"):
            raise LabError(f"built vmlinux {obj / 'vmlinux'} has no struct sched_ext_ops in its BTF")
        shutil.copyfile(obj / ".config", tmp / "config")
        shutil.copyfile(obj / "System.map", tmp / "System.map")
        (tmp / "kernel.json").write_text(json.dumps(info, indent=1) + "\n")
        if kdir.exists():
            old = kdir.parent / f".old-{kdir.name}-{os.getpid()}"
            os.replace(kdir, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, kdir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return kernel_fetch.with_paths(info, kdir)


def _prune(version: str) -> None:
    """Drops sources and object trees of other versions (each costs gigabytes)."""
    keep_tree = f"{SOURCE_PACKAGE}-{version.split(':', 1)[-1]}"
    keep_files = set(_dsc_files(_src_dir() / _dsc_name(version))) | {_dsc_name(version)}
    for p in _src_dir().iterdir():
        if p.is_dir() and p.name.startswith(f"{SOURCE_PACKAGE}-") and p.name != keep_tree:
            log(f"removing old source tree {p}")
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.startswith(f"{SOURCE_PACKAGE}_") and p.name not in keep_files:
            p.unlink()
    for p in build_root().glob("obj-*"):
        if p.name != _obj_dir(version).name:
            log(f"removing old object tree {p}")
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Cache lookups and the entry point


def _load_built(kdir: Path):
    """kdir's kernel.json when kdir holds a complete build of the current fragment and recipe."""
    try:
        info = json.loads((kdir / "kernel.json").read_text())
    except (OSError, ValueError):
        return None
    if info.get("built_from") != "source" or info.get("fingerprint") != fingerprint():
        return None
    if not ((kdir / "vmlinuz").is_file() and (kdir / "vmlinux").is_file()):
        return None
    return kernel_fetch.with_paths(info, kdir)


def cached_build(kdir: Path = None, wanted: str = SERIES):
    """The newest complete build matching wanted: in kdir if given, else anywhere in the kernel
    store. None if there is none. Never touches the network."""
    if kdir is not None:
        dirs = [Path(kdir)]
    else:
        root = kernel_fetch.kernels_dir()
        dirs = [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")] if root.is_dir() else []
    hits = [i for i in map(_load_built, dirs) if i and kernel_fetch.matches(i["version"], wanted)]
    hits.sort(key=functools.cmp_to_key(lambda a, b: _compare_versions(a["version"], b["version"])))
    return hits[-1] if hits else None


def build_612(kdir: Path = None, *, version: str = "", refresh: bool = False, jobs: int = 0) -> dict:
    """Builds (or reuses) Debian's newest downloadable 6.12 kernel with sched_ext.

    kdir: where vmlinuz, vmlinux, kernel.json, config and System.map go (default: the kernel
    store's kernel/<release>). version: a Debian version or prefix (default "6.12"; e.g.
    "6.12.107" or "6.12.107-1"). refresh: re-resolve the version (apt-get update) even if a
    build is cached. jobs: make -j (default KFREEZE_VM_KBUILD_JOBS, else the CPU count).
    Returns kernel.json's content plus dir, vmlinuz, vmlinux:
    {package: "linux (source)", version (Debian's, e.g. 6.12.107-1), release (uname -r), suite,
     built_from: "source", fingerprint, fragment, abi, tools, timings (seconds per step), built}.
    """
    wanted = version or SERIES
    if not kernel_fetch.matches(wanted, SERIES):
        raise LabError(f"kernel_build builds the {SERIES} line only, not {wanted!r}")
    jobs = jobs or int(os.environ.get("KFREEZE_VM_KBUILD_JOBS", "0") or 0) or os.cpu_count() or 1
    build_root().mkdir(parents=True, exist_ok=True)
    with locked(build_root() / "build.lock"):
        if not refresh:
            hit = cached_build(kdir, wanted)
            if hit:
                return hit
        _check_tools()
        timings = {}
        t0 = time.monotonic()
        updated = kernel_fetch.ensure_lists(force=refresh)
        timings["apt_update"] = round(time.monotonic() - t0, 1)
        candidates = source_versions(wanted)
        if not candidates:
            raise LabError(f"no {SOURCE_PACKAGE} source package matching {wanted!r} in "
                           f"{', '.join(kernel_fetch.SUITES)} (mirror {kernel_fetch.mirror()[0]})")
        t0 = time.monotonic()
        ver = _download(candidates, wanted, updated)
        timings["source_download"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        tree = _unpack(ver)
        timings["unpack"] = round(time.monotonic() - t0, 1)
        abi = abi_name(tree)
        release = f"{abi}-{FLAVOUR}"
        # The kernel appends CONFIG_LOCALVERSION to its own VERSION.PATCHLEVEL.SUBLEVEL.
        localversion = release[len(_kernel_version(tree)):]
        if not release.startswith(_kernel_version(tree)):
            raise LabError(f"Debian ABI name {abi} does not start with the tree's version {_kernel_version(tree)}")
        target = Path(kdir) if kdir is not None else kernel_fetch.kernels_dir() / release
        # refresh re-resolves the version; a build of that same version and fingerprint stays.
        hit = _load_built(target)
        if hit and hit["version"] == ver:
            return hit
        t0 = time.monotonic()
        obj = _configure(tree, ver, localversion)
        timings["config"] = round(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        _build(tree, obj, ver, localversion, jobs)
        timings["build"] = round(time.monotonic() - t0, 1)
        info = {
            "package": f"{SOURCE_PACKAGE} (source)", "version": ver, "release": release,
            "suite": SOURCE_SUITE, "built_from": "source", "abi": abi,
            "fingerprint": fingerprint(), "fragment": str(FRAGMENT.relative_to(paths.REPO)),
            "dsc": _dsc_name(ver), "jobs": jobs, "tools": _tool_versions(), "timings": timings,
            "built": time.strftime("%Y-%m-%dT%H:%M:%S"), "obj_dir": str(obj),
        }
        t0 = time.monotonic()
        result = _install(obj, target, info)
        timings["install"] = round(time.monotonic() - t0, 1)
        (target / "kernel.json").write_text(json.dumps(info, indent=1) + "\n")
        _prune(ver)
        log(f"kernel {release} built from {SOURCE_PACKAGE} {ver} into {target} "
            f"({', '.join(f'{k} {v}s' for k, v in timings.items())})")
        result["timings"] = timings
        return result


if __name__ == "__main__":
    # python3 -m labkit.kernel_build [VERSION] (from tests/vm): build and print kernel.json.
    import sys
    try:
        print(json.dumps(build_612(version=sys.argv[1] if len(sys.argv) > 1 else ""), indent=1))
    except LabError as e:
        print(f"kernel_build: error: {e}", file=sys.stderr)
        sys.exit(255)
