"""Guest lifecycle: boot (with retries and accelerator fallback), command execution, teardown.

A guest's state is its run dir (<cache>/run/<name>/) with meta.json; the RAM file lives in
/dev/shm and the sockets in the run dir (or a short /tmp dir when that path is too long).
The guest's architecture is arch.current() at `up` (recorded in meta.json); exec, truth and down
work the same for every architecture.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import accel, arch, builder, cmdchannel, initramfs, paths
from .console import ConsoleWatch
from .locks import locked
from .proc import LabError, log

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
PARAM_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
POLL_SECONDS = 0.2
# Without KVM trouble init shows up in 2-3 s under KVM and ~8 s under TCG.
KVM_INIT_TIMEOUT = 30
TCG_INIT_TIMEOUT = 120
DEFAULT_READY_TIMEOUT = 300
DEFAULT_RETRIES = 3
# Attempts from this index on use single-threaded TCG, which avoids the int3 flake.
SINGLE_THREAD_FROM_ATTEMPT = 2
STOP_GRACE_SECONDS = 10
CHANNEL_PING_TIMEOUT = 60
MIN_CPUS, MAX_CPUS = 1, 64
MIN_MEM_MIB, MAX_MEM_MIB = 256, 65536
CPU_OPTS_ENV = "KFREEZE_VM_CPU_OPTS"
CPU_OPT_RE = re.compile(r"^[A-Za-z0-9_.+-]+(=[A-Za-z0-9_.+-]+)?$")
# arm64 (-cpu max): pauth-impdef (QARMA5 PAuth nearly doubles TCG boot time), no SVE/SME (they
# triple the HMP register dump); KASLR works without EFI (seed from the device tree).
ARM64_CPU_PROPS = ("pauth-impdef=on", "sve=off", "sme=off")


def _check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise LabError(f"bad guest name {name!r}: use 1-40 of [A-Za-z0-9_.-], starting alphanumeric")


def _meta_path(name: str) -> Path:
    return paths.run_dir(name) / "meta.json"


def load_meta(name: str) -> dict:
    _check_name(name)
    mp = _meta_path(name)
    if not mp.exists():
        raise LabError(f"guest {name!r} is not up (no {mp})")
    return json.loads(mp.read_text())


def _pid_is_our_qemu(pid: int, ram: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return ram.encode() in cmdline


def is_running(meta: dict) -> bool:
    return _pid_is_our_qemu(meta["pid"], meta["ram"])


def _kill(pid: int, ram: str) -> None:
    if not _pid_is_our_qemu(pid, ram):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and _pid_is_our_qemu(pid, ram):
        time.sleep(0.05)
        _reap(pid)
    if _pid_is_our_qemu(pid, ram):
        os.kill(pid, signal.SIGKILL)
        while _pid_is_our_qemu(pid, ram):
            time.sleep(0.05)
            _reap(pid)


def _reap(pid: int) -> None:
    """QEMU is our child only while `lab up` runs; reap it then so no zombie stays."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _files(name: str) -> dict:
    rdir = paths.run_dir(name)
    sdir = paths.socket_dir(name)
    return {
        "rundir": rdir,
        "sockdir": sdir,
        "ram": paths.ram_file(name),
        "qmp": sdir / "qmp.sock",
        "cmd": sdir / "cmd.sock",
        "console": rdir / "console.log",
        "qemu_log": rdir / "qemu.log",
        "initrd": rdir / "initrd.cpio.gz",
    }


def _remove_runtime_files(name: str) -> None:
    """Everything but the logs, which stay for post-mortems until the next `up`."""
    f = _files(name)
    for key in ("ram", "qmp", "cmd", "initrd"):
        Path(f[key]).unlink(missing_ok=True)
    _meta_path(name).unlink(missing_ok=True)
    if f["sockdir"] != f["rundir"]:
        shutil.rmtree(f["sockdir"], ignore_errors=True)


def parse_cpu_opts(text: str) -> tuple:
    """`--cpu-opts lpa2=off,la57=off` (or KFREEZE_VM_CPU_OPTS) as -cpu properties."""
    props = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    for p in props:
        if not CPU_OPT_RE.match(p):
            raise LabError(f"--cpu-opts: bad CPU property {p!r} (expected NAME or NAME=VALUE)")
    return props


def _kernel_append(name: str, opts: dict, guest: arch.Arch) -> str:
    append = [f"console={guest.console}", "panic=-1", "quiet", "psi=1", f"kfreeze.name={name}"]
    if opts["kaslr"] == "off":
        append.append("nokaslr")
    append += os.environ.get("KFREEZE_VM_APPEND", "").split()
    return " ".join(append)


def _qemu_command(name: str, f: dict, kernel: dict, opts: dict, accel_name: str, threads: str) -> list:
    guest = arch.by_name(opts["arch"])
    if not guest.native:
        return _qemu_command_arm64(name, f, kernel, opts, threads)
    mem = opts["mem"]
    return [
        "qemu-system-x86_64", "-name", f"kfreeze-{name}", "-nodefaults", "-no-user-config",
        *accel.qemu_args(accel_name, threads, opts["cpu_opts"]),
        "-m", f"{mem}M", "-smp", str(opts["cpus"]),
        "-object", f"memory-backend-file,id=mem0,size={mem}M,mem-path={f['ram']},share=on",
        "-machine", "q35,memory-backend=mem0",
        "-kernel", kernel["vmlinuz"], "-initrd", str(f["initrd"]),
        "-append", _kernel_append(name, opts, guest),
        "-display", "none", "-vga", "none", "-no-reboot", "-nic", "none",
        "-serial", f"file:{f['console']}",
        "-serial", f"unix:{f['cmd']},server=on,wait=off",
        "-qmp", f"unix:{f['qmp']},server=on,wait=off",
    ]


def _qemu_command_arm64(name: str, f: dict, kernel: dict, opts: dict, threads: str) -> list:
    """qemu virt under TCG, booting the raw Image directly (no firmware). virt has one UART (the
    console); the command channel is a virtserialport on virtio-serial-pci named org.kfreeze.cmd
    (guest/cmdport; the cloud kernel has VIRTIO_PCI=y but VIRTIO_MMIO=m)."""
    mem = opts["mem"]
    return [
        arch.ARM64.qemu, "-name", f"kfreeze-{name}", "-nodefaults", "-no-user-config",
        *accel.qemu_args("tcg", threads, ARM64_CPU_PROPS + opts["cpu_opts"]),
        "-m", f"{mem}M", "-smp", str(opts["cpus"]),
        "-object", f"memory-backend-file,id=mem0,size={mem}M,mem-path={f['ram']},share=on",
        "-machine", "virt,gic-version=3,memory-backend=mem0",
        "-kernel", kernel["vmlinuz"], "-initrd", str(f["initrd"]),
        "-append", _kernel_append(name, opts, arch.ARM64),
        "-display", "none", "-no-reboot", "-nic", "none",
        "-serial", f"file:{f['console']}",
        "-device", "virtio-serial-pci",
        "-chardev", f"socket,id=cmd,path={f['cmd']},server=on,wait=off",
        "-device", "virtserialport,chardev=cmd,name=org.kfreeze.cmd",
        "-qmp", f"unix:{f['qmp']},server=on,wait=off",
    ]


class BootFailure(Exception):
    def __init__(self, msg: str, retry: bool):
        super().__init__(msg)
        self.retry = retry


def _boot_once(name, f, kernel, opts, accel_name, threads) -> subprocess.Popen:
    """Starts QEMU and waits for the scenario's ready line; raises BootFailure otherwise."""
    for key in ("ram", "qmp", "cmd", "console"):
        Path(f[key]).unlink(missing_ok=True)
    cmd = _qemu_command(name, f, kernel, opts, accel_name, threads)
    (f["rundir"] / "qemu.cmdline").write_text(" ".join(cmd) + "\n")
    with open(f["qemu_log"], "wb") as qlog:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    # Provisional state, so `lab down` finds this QEMU even if `lab up` itself dies while booting.
    _meta_path(name).write_text(json.dumps({"name": name, "pid": proc.pid, "ram": str(f["ram"]),
                                            "booting": True, "accel": accel_name, "kaslr": opts["kaslr"],
                                            "scenario": opts["scenario"], "arch": opts["arch"]}) + "\n")
    try:
        return _wait_ready(proc, f, accel_name, opts)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise


def _wait_ready(proc, f, accel_name, opts) -> subprocess.Popen:
    watch = ConsoleWatch(f["console"])
    start = time.monotonic()
    init_timeout = KVM_INIT_TIMEOUT if accel_name == "kvm" else TCG_INIT_TIMEOUT
    while True:
        time.sleep(POLL_SECONDS)
        watch.poll()
        elapsed = time.monotonic() - start
        tail = f"\n--- console tail ---\n{watch.tail()}"
        if watch.ready():
            return proc
        panic = watch.panic_line()
        if panic:
            # Early deaths (and the known int3 flake) are worth another boot; a panic the scenario
            # causes would only repeat.
            raise BootFailure(f"guest panicked: {panic}{tail}",
                              retry=not watch.reached_init() or watch.known_flake())
        if proc.poll() is not None:
            qlog_text = Path(f["qemu_log"]).read_text(errors="replace").strip()
            raise BootFailure(f"QEMU exited with {proc.returncode}: {qlog_text}{tail}", retry=False)
        rc = watch.scenario_exit()
        if rc is not None:
            raise BootFailure(f"scenario exited (rc={rc}) without printing KFREEZE-SCENARIO-READY{tail}",
                              retry=False)
        if not watch.reached_init() and elapsed > init_timeout:
            raise BootFailure(f"no init after {init_timeout}s under {accel_name}{tail}", retry=True)
        if elapsed > opts["timeout"]:
            raise BootFailure(f"scenario not ready after {opts['timeout']}s{tail}", retry=False)


def _log_boot(name, opts, accel_name, threads, attempt, outcome, t0) -> None:
    """One line per boot attempt in <cache>/run/boots.log: the record of boot times and flakes."""
    line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {name} accel={accel_name} threads={threads} "
            f"attempt={attempt + 1} seconds={time.monotonic() - t0:.1f} arch={opts['arch']} "
            f"outcome={outcome}\n")
    with open(paths.run_root() / "boots.log", "a") as log_file:
        log_file.write(line)


def _boot_with_retries(name, f, kernel, opts, requested_accel) -> dict:
    """Boots under the planned accelerators in turn, retrying flaky TCG boots; raises LabError."""
    accels, note = accel.plan(requested_accel, native=arch.by_name(opts["arch"]).native)
    max_retries = int(os.environ.get("KFREEZE_VM_BOOT_RETRIES", DEFAULT_RETRIES))
    retries = 0
    failures = []
    for accel_name in accels:
        attempt = 0
        while True:
            threads = "single" if attempt >= SINGLE_THREAD_FROM_ATTEMPT else "multi"
            t0 = time.monotonic()
            try:
                proc = _boot_once(name, f, kernel, opts, accel_name, threads)
                _log_boot(name, opts, accel_name, threads, attempt, "ready", t0)
            except BootFailure as e:
                first_line = str(e).splitlines()[0]
                _log_boot(name, opts, accel_name, threads, attempt, first_line, t0)
                failures.append(f"[{accel_name} attempt {attempt + 1}] {e}")
                log(f"{name}: boot attempt {attempt + 1} under {accel_name} failed: {first_line}")
                if accel_name == "kvm":
                    note = f"kvm boot failed ({first_line}); fell back to tcg"
                    break
                if not e.retry or retries >= max_retries:
                    break
                retries += 1
                attempt += 1
                continue
            return {"proc": proc, "accel": accel_name, "tcg_threads": threads if accel_name == "tcg" else "",
                    "accel_note": note, "retries": retries, "boot_seconds": round(time.monotonic() - t0, 2)}
    raise LabError(f"guest {name!r} did not come up:\n" + "\n".join(failures))


def _prepare_initrd(f: dict, base: Path, scenario: Path, extra_files: list, params: dict) -> None:
    overlay = f["rundir"] / "overlay.cpio.gz"
    initramfs.build_overlay(scenario, extra_files, overlay, params)
    initramfs.assemble(base, overlay, f["initrd"])
    overlay.unlink()


def up(name: str, scenario: Path, cpus: int, mem: int, kaslr: str, requested_accel: str,
       timeout: float, extra_files: list, params: dict = None, cpu_opts: str = None) -> dict:
    """params: scenario parameters {key: value} (`lab up --param`), keys matching PARAM_KEY_RE.
    cpu_opts: extra -cpu properties, comma-separated (default KFREEZE_VM_CPU_OPTS)."""
    _check_name(name)
    guest = arch.current()
    cpu_props = parse_cpu_opts(os.environ.get(CPU_OPTS_ENV, "") if cpu_opts is None else cpu_opts)
    params = dict(params or {})
    for key, value in params.items():
        if not PARAM_KEY_RE.match(key) or "\n" in str(value) or "\0" in str(value):
            raise LabError(f"bad scenario parameter {key}={value!r}")
    if not scenario.is_file():
        raise LabError(f"scenario {scenario} is not a file")
    if not MIN_CPUS <= cpus <= MAX_CPUS or not MIN_MEM_MIB <= mem <= MAX_MEM_MIB:
        raise LabError(f"--cpus must be {MIN_CPUS}..{MAX_CPUS} and --mem {MIN_MEM_MIB}..{MAX_MEM_MIB} MiB")
    with locked(paths.run_root() / f"{name}.lock"):
        mp = _meta_path(name)
        if mp.exists():
            old = json.loads(mp.read_text())
            if is_running(old):
                raise LabError(f"guest {name!r} is already up (pid {old['pid']}); run `lab down {name}` first")
            _remove_runtime_files(name)
        built = builder.ensure_built()
        kernel = built["kernel"]
        f = _files(name)
        f["rundir"].mkdir(parents=True, exist_ok=True)
        f["sockdir"].mkdir(parents=True, exist_ok=True)
        _prepare_initrd(f, built["initramfs"], scenario, extra_files, params)
        opts = {"cpus": cpus, "mem": mem, "kaslr": kaslr, "timeout": timeout, "scenario": str(scenario),
                "arch": guest.name, "cpu_opts": cpu_props}
        start = time.monotonic()
        try:
            boot = _boot_with_retries(name, f, kernel, opts, requested_accel)
        except BaseException:
            _remove_runtime_files(name)
            raise
        meta = {
            "name": name, "pid": boot["proc"].pid, "ram": str(f["ram"]), "qmp": str(f["qmp"]),
            "console": str(f["console"]), "cmd": str(f["cmd"]), "accel": boot["accel"],
            "tcg_threads": boot["tcg_threads"], "accel_note": boot["accel_note"], "retries": boot["retries"],
            "boot_seconds": boot["boot_seconds"], "total_seconds": round(time.monotonic() - start, 2),
            "kernel": kernel["release"], "kernel_package": f"{kernel['package']} {kernel['version']}",
            "kaslr": kaslr, "cpus": cpus, "mem_mib": mem, "scenario": str(scenario.resolve()),
            "params": params, "rundir": str(f["rundir"]), "arch": guest.name,
            "cpu_opts": ",".join(cpu_props),
        }
        mp.write_text(json.dumps(meta, indent=1) + "\n")
    try:
        exec_script(name, "true", CHANNEL_PING_TIMEOUT)
    except LabError as e:
        down(name)
        raise LabError(f"guest {name!r} booted but its command channel does not answer: {e}") from None
    return meta


def exec_script(name: str, script: str, timeout: float) -> cmdchannel.CommandResult:
    meta = load_meta(name)
    if not is_running(meta):
        raise LabError(f"guest {name!r}: QEMU (pid {meta['pid']}) is not running; see {meta['console']}")
    with locked(paths.run_dir(name) / "cmd.lock"):
        return cmdchannel.run_script(Path(meta["cmd"]), script, timeout)


def down(name: str) -> bool:
    """Stops the guest and removes its RAM file and sockets. False if it was not up."""
    _check_name(name)
    with locked(paths.run_root() / f"{name}.lock"):
        mp = _meta_path(name)
        if not mp.exists():
            _remove_runtime_files(name)
            return False
        meta = json.loads(mp.read_text())
        _kill(meta["pid"], meta["ram"])
        _remove_runtime_files(name)
        return True


def list_guests() -> list:
    root = paths.run_root()
    out = []
    if root.exists():
        for mp in sorted(root.glob("*/meta.json")):
            meta = json.loads(mp.read_text())
            meta["running"] = is_running(meta)
            meta.setdefault("booting", False)
            out.append(meta)
    return out
