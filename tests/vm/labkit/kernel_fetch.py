"""Fetch Debian's sched_ext-enabled cloud kernels with a project-local apt configuration.

The machine's own apt configuration is never touched and nothing is installed: apt-get only
downloads the .deb, dpkg -x unpacks it. The suites (trixie, trixie-backports, sid) need glibc newer
than bookworm's, which is why installing from them is forbidden.

Two places:
- the kernel store (paths.kernel_store(), shared by every checkout on the machine): the apt state
  in apt/ and one directory per kernel release in kernel/<release>/ {vmlinuz, vmlinux, kernel.json};
- the per-checkout cache (paths.cache_dir()): selected-kernel.json, which kernel `lab up` boots
  when no --kernel / KFREEZE_VM_KERNEL says otherwise.

The mirror is the one the machine's own apt sources use for the main archive of the host's release
(KFREEZE_VM_MIRROR overrides it); the project names no mirror host.

The 6.12 line (kernel_build.SERIES) is the exception: Debian's binaries lack sched_ext, so fetch()
hands a wanted version of that line to kernel_build, which builds it from Debian's source package
with the same apt tree (its deb-src lines) and installs it into the same store (x86-64 only).

Per guest architecture (arch.current()): x86-64 keeps the store root (apt/, kernel/), arm64 has
its own arm64/{apt,kernel} and selection file, so neither re-downloads nor lists the other's
kernels. The arm64 vmlinuz is a raw Image without an ELF inside: vmlinux is its .BTF blob carved
out and wrapped as an ELF, which is all the lab reads from it.
"""

import json
import os
import re
import shutil
import struct
import time
from pathlib import Path

from . import arch, paths
from .locks import locked
from .proc import LabError, log, run

SUITES = ("trixie", "trixie-backports", "sid")
COMPONENT = "main"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Where the machine's own apt sources live (tests may point this elsewhere).
HOST_APT_ETC = Path("/etc/apt")
HOST_OS_RELEASE = Path("/etc/os-release")
FALLBACK_HOST_SUITE = "bookworm"
# Cloud kernel packages, e.g. linux-binary-7.3.4+deb13-cloud-amd64 (7.x and 6.19: holds the
# vmlinuz; linux-image-<same> is then only a metapackage) or linux-image-6.16.12+deb13-cloud-amd64
# (before: the image package holds it). Unsigned twins: linux-binary-unsigned-<v>-cloud-amd64,
# linux-image-<v>-cloud-amd64-unsigned. cloud-arm64 likewise.
KERNEL_PKG_PATTERN = (
    r"^linux-(?P<kind>binary|image)-(?P<unsigned_pre>unsigned-)?(?P<upstream>\d+(?:\.\d+)+)"
    r"\+(?P<abi>deb\d+)-{flavour}(?P<unsigned_post>-unsigned)?$")
DEFAULT_PREFIX = "7"
# `lab fetch` refreshes the package lists when they are older than this (a download that fails
# with fresh-enough lists refreshes them and retries once).
LISTS_MAX_AGE = 6 * 3600
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# struct btf_header: magic 0xeb9f, version 1, flags 0, hdr_len, type_off, type_len, str_off, str_len.
BTF_MAGIC = b"\x9f\xeb\x01\x00"
BTF_HEADER = struct.Struct("<4sIIIII")
BTF_HEADER_LEN = 24
SELECTED = "selected-kernel.json"


def flavour() -> str:
    """Debian's kernel flavour of the current architecture (cloud-amd64, cloud-arm64)."""
    return arch.current().flavour


def kernel_pkg_re():
    return re.compile(KERNEL_PKG_PATTERN.format(flavour=re.escape(flavour())))


# ---------------------------------------------------------------------------------------------
# Mirror: from the machine's own apt sources


def host_suite() -> str:
    """The host's release codename (VERSION_CODENAME in /etc/os-release), e.g. bookworm."""
    try:
        for line in HOST_OS_RELEASE.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "VERSION_CODENAME" and value.strip().strip('"'):
                return value.strip().strip('"')
    except OSError:
        pass
    return FALLBACK_HOST_SUITE


def _one_line_entries(text: str):
    """Entries of a one-line-style sources.list: `deb [opts] URI SUITE COMPONENT...`."""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        kind = tokens.pop(0)
        if kind not in ("deb", "deb-src"):
            continue
        options = {}
        if tokens and tokens[0].startswith("["):
            opt_words = []
            while tokens:
                word = tokens.pop(0)
                opt_words.append(word)
                if word.endswith("]"):
                    break
            for opt in " ".join(opt_words).strip("[]").split():
                k, _, v = opt.partition("=")
                options[k.lower()] = v
        if len(tokens) < 2:
            continue
        yield {"types": [kind], "uris": [tokens[0]], "suites": [tokens[1]],
               "components": tokens[2:], "signed_by": options.get("signed-by", ""), "enabled": True}


def _deb822_entries(text: str):
    """Entries of a deb822 .sources file (paragraphs of `Field: value` lines)."""
    paragraphs, cur, last = [], {}, None
    for raw in text.splitlines() + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if cur:
                paragraphs.append(cur)
            cur, last = {}, None
            continue
        if raw[0] in " \t" and last:
            cur[last] += "\n" + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if sep:
            last = key.strip().lower()
            cur[last] = value.strip()
    for p in paragraphs:
        signed_by = p.get("signed-by", "")
        yield {"types": p.get("types", "").split(), "uris": p.get("uris", "").split(),
               "suites": p.get("suites", "").split(), "components": p.get("components", "").split(),
               "signed_by": signed_by if "\n" not in signed_by else "",
               "enabled": p.get("enabled", "yes").lower() not in ("no", "false", "0")}


def host_sources(etc: Path = None) -> list:
    """(file, entry) for every entry of the machine's apt sources (*.list and *.sources only)."""
    etc = etc or HOST_APT_ETC
    files = [etc / "sources.list"]
    parts = etc / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    out = []
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        entries = _deb822_entries(text) if f.suffix == ".sources" else _one_line_entries(text)
        out += [(f, e) for e in entries]
    return out


def host_mirror(etc: Path = None, suite: str = None) -> tuple:
    """(URI, signed-by, file) of the machine's apt entry that serves the main archive of its own
    release (suite == codename exactly, so never the -security or -updates archive)."""
    suite = suite or host_suite()
    hits = []
    for f, e in host_sources(etc):
        if not e["enabled"] or suite not in e["suites"] or COMPONENT not in e["components"]:
            continue
        uris = [u for u in e["uris"] if not u.startswith("cdrom:")]
        if not uris:
            continue
        # A binary entry is preferred over a deb-src one.
        hits.append((0 if "deb" in e["types"] else 1, uris[0].rstrip("/"), e["signed_by"], f))
    if not hits:
        return None
    hits.sort(key=lambda h: h[0])
    return hits[0][1:]


def mirror() -> tuple:
    """(URI, how it was found). KFREEZE_VM_MIRROR wins over the machine's apt sources."""
    env = os.environ.get("KFREEZE_VM_MIRROR", "").strip()
    if env:
        return env.rstrip("/"), "KFREEZE_VM_MIRROR"
    found = host_mirror()
    if not found:
        raise LabError(f"no Debian mirror: none of {HOST_APT_ETC}/sources.list, "
                       f"{HOST_APT_ETC}/sources.list.d/*.list|*.sources has an enabled entry for suite "
                       f"{host_suite()!r} component {COMPONENT!r}; set KFREEZE_VM_MIRROR to a Debian "
                       "mirror URI")
    uri, _signed_by, f = found
    return uri, str(f)


def _keyring() -> str:
    found = None if os.environ.get("KFREEZE_VM_MIRROR") else host_mirror()
    if found and found[1] and Path(found[1]).is_file():
        return found[1]
    return KEYRING


# ---------------------------------------------------------------------------------------------
# Project-local apt


def arch_store() -> Path:
    """The current architecture's part of the kernel store (x86-64: the store itself)."""
    return arch.store(paths.kernel_store())


def apt_dir() -> Path:
    return arch_store() / "apt"


def kernels_dir() -> Path:
    return arch_store() / "kernel"


def apt_options() -> list:
    """-o options that point every piece of apt state into the kernel store (and away from /etc/apt)."""
    return apt_options_for(apt_dir(), arch.current())


def apt_options_for(a: Path, guest: arch.Arch) -> list:
    """apt options for the project-local tree in a, listing guest's architecture only."""
    # A foreign architecture is made apt's native one, so a bare package name means pkg:<arch>.
    native = [] if guest.native else ["-o", f"APT::Architecture={guest.deb}"]
    return [
        "-o", f"Dir::Etc::SourceList={a / 'sources.list'}",
        "-o", f"Dir::Etc::SourceParts={a / 'sources.list.d'}",
        "-o", f"Dir::Etc::Preferences={a / 'preferences'}",
        "-o", f"Dir::Etc::PreferencesParts={a / 'preferences.d'}",
        "-o", f"Dir::State={a / 'state'}",
        "-o", f"Dir::State::Lists={a / 'lists'}",
        "-o", f"Dir::State::status={a / 'status'}",
        "-o", f"Dir::Cache={a / 'cache'}",
        # Keep the binary caches, or every apt-cache call re-parses all lists (seconds each).
        "-o", "Dir::Cache::pkgcache=pkgcache.bin",
        "-o", "Dir::Cache::srcpkgcache=srcpkgcache.bin",
        "-o", f"APT::Architectures={guest.deb}",
        *native,
        "-o", "APT::Default-Release=",
        "-o", "Acquire::Languages=none",
        # Downloads land in the cache; the _apt sandbox user may not be able to write there.
        "-o", "APT::Sandbox::User=root",
    ]


def _sources_text(uri: str, keyring: str) -> str:
    lines = []
    # deb-src only where kernel_build may build from source (x86-64): Sources indices are large.
    for kind in ("deb", "deb-src") if arch.current().native else ("deb",):
        lines += [f"{kind} [signed-by={keyring}] {uri} {suite} {COMPONENT}" for suite in SUITES]
    return "\n".join(lines) + "\n"


def _prepare_apt_tree() -> str:
    a = apt_dir()
    for sub in ("sources.list.d", "preferences.d", "state", "lists/partial", "cache/archives/partial"):
        (a / sub).mkdir(parents=True, exist_ok=True)
    for empty in ("preferences", "status"):
        (a / empty).touch()
    uri, origin = mirror()
    text = _sources_text(uri, _keyring())
    src = a / "sources.list"
    if not src.exists() or src.read_text() != text:
        tmp = src.with_name(f".sources.list.{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, src)
    return f"{uri} (from {origin})"


def apt_lock():
    return locked(arch_store() / "apt.lock")


def apt_update() -> None:
    """apt-get update of the project-local configuration (binary and source indices)."""
    with apt_lock():
        where = _prepare_apt_tree()
        log(f"apt-get update (project-local {arch.current().deb} sources: {', '.join(SUITES)}; "
            f"mirror {where})")
        run(["apt-get", *apt_options(), "-q", "update"], timeout=900)
        (apt_dir() / "updated").write_text(f"{time.time()}\n")


def lists_age() -> float:
    """Seconds since the last successful apt_update(), None when there never was one."""
    stamp = apt_dir() / "updated"
    if not stamp.exists() or not any((apt_dir() / "lists").glob("*_Packages*")):
        return None
    return max(0.0, time.time() - stamp.stat().st_mtime)


def ensure_lists(force: bool = False) -> bool:
    """Updates the lists when forced, missing or stale; returns whether it updated."""
    age = lists_age()
    if force or age is None or age > LISTS_MAX_AGE:
        apt_update()
        return True
    with apt_lock():
        _prepare_apt_tree()
    return False


# ---------------------------------------------------------------------------------------------
# Versions and the archive


def version_key(version: str):
    """Sort key of '7.3.4+deb13' (or a release '7.3.4+deb13-cloud-amd64')."""
    upstream, _, rest = version.partition("+")
    abi = re.match(r"deb(\d+)", rest)
    return (tuple(int(x) for x in upstream.split(".") if x.isdigit()), int(abi.group(1)) if abi else 0)


def matches(release: str, wanted: str) -> bool:
    """'6.16' matches 6.16.12+deb13-cloud-amd64, not 6.160.1; a full version or release matches
    itself. Works for Debian package versions too ('6.12' matches 6.12.107-1, 6.12.107~rc1-1)."""
    if not wanted:
        return True
    return release == wanted or (release.startswith(wanted) and release[len(wanted)] in ".+-~")


def _package_rank(m) -> tuple:
    """Which package of one kernel version holds the vmlinuz, best first: linux-binary-* where it
    exists (linux-image-* is then a metapackage), else linux-image-*; signed before unsigned."""
    unsigned = bool(m["unsigned_pre"] or m["unsigned_post"])
    return (0 if m["kind"] == "binary" else 1, 1 if unsigned else 0)


def archive_kernels() -> list:
    """Every cloud kernel of the current architecture the project-local suites offer, oldest
    first: [{version, release, package, pkg_version, suite}] (one entry per kernel version)."""
    pkg_re = kernel_pkg_re()
    names = set()
    for prefix in ("linux-binary-", "linux-image-"):
        res = run(["apt-cache", *apt_options(), "pkgnames", prefix])
        names.update(n for n in res.stdout.decode().split() if pkg_re.match(n))
    if not names:
        return []
    # policy gives a candidate only for packages with a real (downloadable) version, not for
    # virtual names (madison would do too, but it also scans the Sources indices: far slower).
    res = run(["apt-cache", *apt_options(), "policy", *sorted(names)])
    offered = {}
    name = candidate = None
    in_candidate = False
    for line in res.stdout.decode().splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            name, candidate, in_candidate = line[:-1], None, False
            continue
        stripped = line.strip()
        if stripped.startswith("Candidate:"):
            candidate = stripped.split(":", 1)[1].strip()
            if candidate == "(none)":
                candidate = None
            continue
        words = stripped.split()
        if candidate and words[:1] in (["***"], [candidate]):
            in_candidate = (words[1] if words[0] == "***" else words[0]) == candidate
            continue
        if in_candidate and stripped.endswith("Packages") and len(words) >= 4:
            offered.setdefault(name, (candidate, words[2].split("/")[0]))
            in_candidate = False
    by_version = {}
    for name, (pkg_version, suite) in offered.items():
        m = pkg_re.match(name)
        version = f"{m['upstream']}+{m['abi']}"
        by_version.setdefault(version, []).append((_package_rank(m), name, pkg_version, suite))
    out = []
    for version, pkgs in by_version.items():
        if any(p[0][0] == 0 for p in pkgs):
            pkgs = [p for p in pkgs if p[0][0] == 0]
        pkgs.sort()
        _rank, name, pkg_version, suite = pkgs[0]
        out.append({"version": version, "release": f"{version}-{flavour()}", "package": name,
                    "pkg_version": pkg_version, "suite": suite})
    out.sort(key=lambda k: version_key(k["version"]))
    return out


def resolve(wanted: str) -> dict:
    """Newest archive kernel matching wanted (default: the newest 7.x)."""
    want = wanted or DEFAULT_PREFIX
    offered = archive_kernels()
    hits = [k for k in offered if matches(k["release"], want)]
    if not hits:
        lines = sorted({k["version"].rsplit(".", 1)[0] for k in offered}, key=version_key)
        raise LabError(f"no {flavour()} kernel matching {want!r} in {', '.join(SUITES)} "
                       f"(mirror {mirror()[0]}); offered lines: {' '.join(lines) or 'none'}")
    return hits[-1]


# ---------------------------------------------------------------------------------------------
# The kernel store


def with_paths(info: dict, kdir: Path) -> dict:
    """kernel.json's content plus the kernel dir's absolute paths (dir, vmlinuz, vmlinux)."""
    info = dict(info)
    info["dir"] = str(kdir)
    info["vmlinuz"] = str(kdir / "vmlinuz")
    info["vmlinux"] = str(kdir / "vmlinux")
    return info


def _kernel_info(kdir: Path) -> dict:
    return with_paths(json.loads((kdir / "kernel.json").read_text()), kdir)


def cached_kernels() -> list:
    """Complete kernels in the store, oldest first."""
    out = []
    d = kernels_dir()
    if d.is_dir():
        for kdir in d.iterdir():
            if kdir.name.startswith(".") or not (kdir / "kernel.json").exists():
                continue
            if not ((kdir / "vmlinuz").exists() and (kdir / "vmlinux").exists()):
                continue
            try:
                out.append(_kernel_info(kdir))
            except (OSError, ValueError):
                continue
    out.sort(key=lambda k: version_key(k["release"]))
    return out


def _newest_cached(wanted: str):
    hits = [k for k in cached_kernels() if matches(k["release"], wanted)]
    return hits[-1] if hits else None


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


def _btf_blobs(blob: bytes):
    """(offset, size) of every plausible BTF blob in blob: header, then types, then strings."""
    off = blob.find(BTF_MAGIC)
    while off >= 0:
        if off + BTF_HEADER_LEN <= len(blob):
            _magic, hdr_len, type_off, type_len, str_off, str_len = BTF_HEADER.unpack_from(blob, off)
            size = hdr_len + type_len + str_len
            if hdr_len == BTF_HEADER_LEN and type_off == 0 and str_off == type_len and \
                    off + size <= len(blob):
                yield off, size
        off = blob.find(BTF_MAGIC, off + 1)


def carve_btf_elf(image: Path, out: Path) -> None:
    """A raw kernel Image (arm64) has no ELF inside, but its .BTF blob is embedded verbatim: carve
    it out and wrap it as an ELF with one .BTF section, so bpftool and the builder read it like
    an x86-64 vmlinux."""
    found = sorted(_btf_blobs(image.read_bytes()), key=lambda c: c[1])
    if not found:
        raise LabError(f"no BTF blob (magic 9f eb 01 00, 24-byte header) in {image}")
    off, size = found[-1]  # the kernel's own BTF dwarfs any false match
    raw = out.with_name(out.name + ".btf")
    with open(image, "rb") as f:
        f.seek(off)
        raw.write_bytes(f.read(size))
    guest = arch.current()
    # No symbols: objcopy's _binary_* ones would pass for a (useless) kernel symbol table.
    run([f"{guest.cross_prefix}objcopy", "-I", "binary", "-O", guest.elf_target, "--strip-all",
         "--rename-section", ".data=.BTF", raw.name, out.name], cwd=out.parent)
    raw.unlink()


def extract_vmlinux(vmlinuz: Path, out: Path) -> None:
    """out: an ELF with the kernel's .BTF, from the bzImage's payload or the raw Image's blob."""
    if arch.current().native:
        find_zstd_elf(vmlinuz, out)
    else:
        carve_btf_elf(vmlinuz, out)


def has_sched_ext(vmlinux: Path) -> bool:
    raw = run(["bpftool", "btf", "dump", "file", vmlinux]).stdout
    return b"STRUCT 'sched_ext_ops' size=" in raw


def _download(pkg: str, dest: Path, just_updated: bool) -> Path:
    log(f"apt-get download {pkg}")
    res = run(["apt-get", *apt_options(), "-q", "download", pkg], cwd=dest, timeout=1800,
              check=just_updated)
    if res.returncode != 0:
        # The lists may name a version the mirror no longer has: refresh them once.
        apt_update()
        run(["apt-get", *apt_options(), "-q", "download", pkg], cwd=dest, timeout=1800)
    debs = list(dest.glob("*.deb"))
    if len(debs) != 1:
        raise LabError(f"expected one .deb for {pkg} in {dest}, found {debs}")
    return debs[0]


def _rejected_file(release: str) -> Path:
    return kernels_dir() / ".rejected" / f"{release}.json"


def _rejected_message(entry: dict) -> str:
    from . import kernel_build
    hint = ""
    if matches(entry["release"], kernel_build.SERIES) and arch.current().native:
        hint = (f"; `--kernel {kernel_build.SERIES}` builds that line from Debian's source package "
                "with sched_ext")
    return (f"kernel {entry['release']} ({entry['package']}) has no struct sched_ext_ops in its BTF: "
            "built without CONFIG_SCHED_CLASS_EXT, the lab cannot use it; pick another with --kernel "
            f"(see `tests/vm/lab kernels`){hint}")


def _remember_rejected(entry: dict) -> None:
    """So the next fetch of the same package fails at once instead of downloading it again."""
    f = _rejected_file(entry["release"])
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"package": entry["package"], "pkg_version": entry["pkg_version"]}) + "\n")


def rejected(entry: dict) -> bool:
    """Whether this exact package version was downloaded before and found without sched_ext."""
    try:
        info = json.loads(_rejected_file(entry["release"]).read_text())
    except (OSError, ValueError):
        return False
    return info.get("package") == entry["package"] and info.get("pkg_version") == entry["pkg_version"]


def _unpack(entry: dict, just_updated: bool) -> dict:
    """Downloads and unpacks entry's package into a temporary dir, checks it, moves it into the store."""
    pkg = entry["package"]
    kernels_dir().mkdir(parents=True, exist_ok=True)
    tmp = kernels_dir() / f".tmp-{entry['release']}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "deb").mkdir(parents=True)
    try:
        deb = _download(pkg, tmp / "deb", just_updated)
        root = tmp / "root"
        run(["dpkg", "-x", deb, root])
        images = sorted(root.glob("usr/lib/modules/*/vmlinuz")) + sorted(root.glob("boot/vmlinuz-*"))
        if not images:
            raise LabError(f"{pkg} holds no vmlinuz (looked in usr/lib/modules/*/ and boot/)")
        image = images[0]
        release = image.parent.name if image.name == "vmlinuz" else image.name[len("vmlinuz-"):]
        if release != entry["release"]:
            raise LabError(f"{pkg}: unpacked release {release} does not match the package name")
        shutil.copyfile(image, tmp / "vmlinuz")
        extract_vmlinux(tmp / "vmlinuz", tmp / "vmlinux")
        if not has_sched_ext(tmp / "vmlinux"):
            _remember_rejected(entry)
            raise LabError(_rejected_message(entry))
        version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.decode().strip()
        info = {"package": pkg, "version": version, "release": release, "arch": arch.current().name,
                "deb": deb.name,
                "suite": entry.get("suite", "?"), "fetched": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "kernel.json").write_text(json.dumps(info, indent=1) + "\n")
        shutil.rmtree(root)
        shutil.rmtree(tmp / "deb")
        final = kernels_dir() / release
        if final.exists():
            old = kernels_dir() / f".old-{release}-{os.getpid()}"
            os.replace(final, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log(f"kernel {release} ({pkg} {version}) unpacked in {final}")
    return _kernel_info(final)


# ---------------------------------------------------------------------------------------------
# Selection (per checkout) and the entry points


def selected_file() -> Path:
    """selected-kernel.json (x86-64), selected-kernel-arm64.json (arm64)."""
    sub = arch.current().store_subdir
    name = SELECTED if not sub else SELECTED.replace(".json", f"-{sub}.json")
    return paths.cache_dir() / name


def _select(info: dict) -> dict:
    sel = selected_file()
    sel.parent.mkdir(parents=True, exist_ok=True)
    tmp = sel.with_name(f".{SELECTED}.{os.getpid()}")
    tmp.write_text(json.dumps({"release": info["release"], "store": str(kernels_dir())}, indent=1) + "\n")
    os.replace(tmp, sel)
    return info


def selected_release() -> str:
    sel = selected_file()
    if not sel.exists():
        return ""
    try:
        return json.loads(sel.read_text()).get("release", "")
    except ValueError:
        return ""


def wanted_kernel() -> str:
    return os.environ.get("KFREEZE_VM_KERNEL", "").strip()


def selected_kernel(wanted: str = None) -> dict:
    """The kernel to boot, with absolute paths: the newest cached one matching wanted
    (default: KFREEZE_VM_KERNEL), else the one `lab fetch` selected for this cache dir.
    Never touches the network."""
    wanted = wanted_kernel() if wanted is None else wanted
    if wanted:
        hit = _newest_cached(wanted)
        if not hit:
            raise LabError(f"no cached kernel matches {wanted!r} in {kernels_dir()}: run "
                           f"tests/vm/lab fetch{arch.current().lab_option} --kernel {wanted}")
        return hit
    release = selected_release()
    if not release:
        raise LabError(f"no {arch.current().name} kernel selected for {paths.cache_dir()}: run "
                       f"tests/vm/lab fetch{arch.current().lab_option} (downloads one unless the "
                       "kernel store already has it)")
    kdir = kernels_dir() / release
    for f in ("kernel.json", "vmlinuz", "vmlinux"):
        if not (kdir / f).exists():
            raise LabError(f"selected kernel {release} is not in the kernel store ({kdir / f} missing): "
                           f"run tests/vm/lab fetch{arch.current().lab_option}")
    return _kernel_info(kdir)


def builds_from_source(wanted: str) -> bool:
    """Whether wanted names the line kernel_build builds (6.12, 6.12.107, 6.12.107+deb13,
    6.12.107+deb13-kfreeze-lab) rather than one of Debian's binary cloud kernels."""
    from . import kernel_build
    return bool(wanted) and matches(wanted, kernel_build.SERIES) and not wanted.endswith(f"-{flavour()}")


def _no_source_build() -> None:
    """kernel_build builds x86-64 only (an arm64 cross build would take far longer still)."""
    from . import kernel_build
    raise LabError(f"the {kernel_build.SERIES} line is built from source for x86_64 only, and "
                   f"Debian's {kernel_build.SERIES} {flavour()} kernels have no sched_ext; pick a "
                   f"newer kernel (see `tests/vm/lab kernels{arch.current().lab_option}`)")


def fetch(wanted: str = None, refresh: bool = False) -> dict:
    """Selects (for this cache dir) and returns the kernel: a cached one unless refresh or none
    matches, else the newest matching one the archive offers, downloaded into the store. A wanted
    version of kernel_build's line is built from source (or its cached build reused) instead."""
    wanted = wanted_kernel() if wanted is None else wanted
    if builds_from_source(wanted):
        if not arch.current().native:
            _no_source_build()
        from . import kernel_build
        # Outside fetch.lock: a build takes long and has its own lock.
        return _select(kernel_build.build_612(version=kernel_build.source_version_of(wanted),
                                              refresh=refresh))
    with locked(arch_store() / "fetch.lock"):
        if not refresh:
            release = selected_release()
            if not wanted and release and (kernels_dir() / release / "kernel.json").exists():
                try:
                    return _select(selected_kernel(""))
                except LabError:
                    pass
            hit = _newest_cached(wanted or DEFAULT_PREFIX)
            if hit:
                return _select(hit)
        updated = ensure_lists(force=refresh)
        entry = resolve(wanted)
        if rejected(entry):
            raise LabError(_rejected_message(entry) + " [remembered from an earlier download]")
        kdir = kernels_dir() / entry["release"]
        if (kdir / "kernel.json").exists() and not refresh:
            return _select(_kernel_info(kdir))
        if (kdir / "kernel.json").exists():
            cur = _kernel_info(kdir)
            if cur.get("package") == entry["package"] and cur.get("version") == entry["pkg_version"]:
                return _select(cur)
        return _select(_unpack(entry, just_updated=updated))
