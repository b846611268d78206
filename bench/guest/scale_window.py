#!/usr/bin/python3
"""What the freeze window costs at scale, against its floor, on lab guests of the `scale` scenario.

For each size (ENTRIES:TASKS) boots one guest of the `scale` scenario (one hash map of ENTRIES
struct scale_val64 values, TASKS sleeping processes), then, --rounds times, runs
`kfreeze dump --format proto-json --max-map-entries 0` and, between two dumps (QEMU serves one
QMP client at a time, so never while kfreeze holds the socket), times bare QMP `stop` + `cont`
round trips itself. It prints one table: the median freeze window (envelope timing
`freeze_window`), the median bare stop+cont, a memcpy of the envelope's `window_bytes` in this
process (warm buffers), and the ratio window / (stop+cont + memcpy), beside the entries rendered,
the tasks walked and the copy / decode phases. With --kfreezed it does the same through a running
kfreezed attached to the guest (`kfreeze freeze`, the daemon route): the daemon keeps its mapping
of guest RAM and its snapshot pool across freezes, where each `kfreeze dump` maps the RAM afresh
and takes a page fault on the first touch of every page it copies, inside the window.

The drgn row per size is the route users would reach for: QMP `dump-guest-memory` (paging off, to
/dev/shm; QEMU keeps the guest stopped until the file is written: that is drgn's window) and
then `drgn -c VMCORE -s VMLINUX` reading the same map's entries (key and value bytes) and the task
list. drgn needs two things the lab lacks: a VMCOREINFO note in the vmcore (QEMU's
`-device vmcoreinfo`), which this script appends from the guest's RAM, and a vmlinux with DWARF
(python3-drgn 0.0.22 reads no BTF): give one with --drgn-vmlinux (the vmlinux of Debian's
linux-image-<release>-dbg). When drgn cannot read the guest the row says why.

Usage: bench/guest/scale_window.py --kfreeze build/clients/kfreeze/kfreeze
       [--kfreezed build/server/kfreezed/kfreezed]
       [--sizes 1000:200,10000:2000,100000:2000] [--rounds 5] [--value-size 64] [--drgn auto|off]
       [--drgn-vmlinux /usr/lib/debug/boot/vmlinux-<release>]
       (KFREEZE_VM_CACHE / KFREEZE_VM_KERNEL select the lab cache and kernel)
"""

import ctypes
import json
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "vm" / "tests"))
from e2e_common import arg_parser, check, labclient, outcome, run_tool  # noqa: E402
from server_support import Daemon  # noqa: E402
import vmcoreinfo  # noqa: E402

STOP_CONT_PER_GAP = 5
MEMCPY_ROUNDS = 7
QMP_TIMEOUT_S = 600
DRGN_TIMEOUT_S = 1800

# The drgn side: the same hash map's entries (key and value bytes read) and the task list.
DRGN_SCRIPT = r'''
import json, sys, time
t0 = time.perf_counter()
from drgn import container_of
from drgn.helpers.linux.bpf import bpf_map_for_each
from drgn.helpers.linux.list_nulls import hlist_nulls_for_each_entry
from drgn.helpers.linux.pid import for_each_task

maps = {}
bad = 0
for m in bpf_map_for_each(prog):
    name = m.name.string_().decode(errors="replace")
    if not name.startswith("scale_h"):
        continue
    htab = container_of(m, "struct bpf_htab", "map")
    key_size, value_size = m.key_size.value_(), m.value_size.value_()
    idx = int(name.rsplit("_", 1)[1])
    n = 0
    for b in range(htab.n_buckets.value_()):
        head = htab.buckets[b].head.address_of_()
        for e in hlist_nulls_for_each_entry("struct htab_elem", head, "hash_node"):
            key = e.key.address_of_().value_()
            k = int.from_bytes(prog.read(key, key_size), "little")
            value = prog.read(key + ((key_size + 7) & ~7), value_size)
            # word 0 of entry k of map idx (tests/vm/bpf/scale.bpf.c)
            if int.from_bytes(value[:8], "little") != (idx << 48 | k << 8):
                bad += 1
            n += 1
    maps[name] = n
tasks = sum(1 for _ in for_each_task(prog))
print(json.dumps({"maps": maps, "bad": bad, "tasks": tasks, "walk_s": time.perf_counter() - t0}))
'''


class Qmp:
    """A minimal QMP client over the unix socket: greeting, qmp_capabilities, commands."""

    def __init__(self, path, timeout=QMP_TIMEOUT_S):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        greeting = self._message()
        check("QMP" in greeting, f"no QMP greeting on {path}: {greeting}")
        self.command("qmp_capabilities")

    def _message(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            check(chunk, "QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, arguments=None):
        msg = {"execute": name, **({"arguments": arguments} if arguments else {})}
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._message()
            if "return" in reply:
                return reply["return"]
            check("error" not in reply, f"QMP {name}: {reply.get('error')}")
            # anything else is an event (STOP, RESUME, ...)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def stop_cont_us(qmp_path, n):
    """n timed `stop` + `cont` round trips (both commands, one sample each)."""
    out = []
    with Qmp(qmp_path) as q:
        check(q.command("query-status")["status"] == "running", "guest not running before stop/cont")
        for _ in range(n):
            t0 = time.perf_counter_ns()
            q.command("stop")
            q.command("cont")
            out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def memcpy_us(nbytes, rounds=MEMCPY_ROUNDS):
    """Median memmove of nbytes between two warm (touched) buffers of this process."""
    if not nbytes:
        return 0.0
    src, dst = bytearray(nbytes), bytearray(nbytes)
    ps = (ctypes.c_char * nbytes).from_buffer(src)
    pd = (ctypes.c_char * nbytes).from_buffer(dst)
    ctypes.memset(ps, 0x5A, nbytes)
    ctypes.memset(pd, 0xA5, nbytes)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        ctypes.memmove(pd, ps, nbytes)
        times.append((time.perf_counter_ns() - t0) / 1000)
    del ps, pd
    return statistics.median(times)


def has_max_map_entries(kfreeze):
    res = subprocess.run([str(kfreeze), "dump", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return b"--max-map-entries" in res.stdout


def dump(kfreeze, g, uncapped):
    cmd = [kfreeze, "dump", "--ram", g.ram, "--qmp", g.qmp, "--format", "proto-json"]
    if uncapped:
        cmd += ["--max-map-entries", "0"]
    return envelope_row(json.loads(run_tool(cmd, "kfreeze dump", timeout=900).stdout))


def freeze_rpc(daemon, name, uncapped):
    """One Freeze through a running kfreezed: its mapping of guest RAM, its caches and its
    snapshot pool outlive each freeze, as in production."""
    args = ["freeze", name, "--json"] + (["--max-map-entries", "0"] if uncapped else [])
    return envelope_row(json.loads(daemon.cli(*args, timeout=900).stdout)["envelope"])


def envelope_row(env):
    timings = {t["phase"]: int(t.get("duration_us", 0)) for t in env.get("timings", [])}
    report = env.get("single", {})
    scale_maps = [m for m in report.get("maps", []) if m.get("name", "").startswith("scale_h")]
    window_bytes = env.get("window_bytes", env.get("windowBytes"))
    return {
        "timings": timings,
        "window_bytes": int(window_bytes) if window_bytes is not None else None,
        "entries": sum(len(m.get("entries", [])) for m in scale_maps),
        "rendered": sum(1 for m in scale_maps for e in m.get("entries", []) if "value" in e),
        "map_errors": [m["error"] for m in scale_maps if m.get("error")],
        "tasks": len(report.get("task_enrichments", [])),
        "idle_tasks": sum(1 for t in report.get("task_enrichments", []) if t.get("comm") == "lab_scale_idle"),
    }


def vmcore_has_vmcoreinfo(path):
    """Whether the ELF core has a VMCOREINFO note (QEMU writes one only with -device vmcoreinfo
    and a guest whose qemu_fw_cfg driver filled it in; the lab has neither)."""
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    return b"VMCOREINFO" in head


START_KERNEL_MAP = 0xFFFFFFFF80000000
KERNEL_IMAGE_SIZE = 1 << 30
PT_LOAD, PT_NOTE = 1, 4
PHDR = "<IIQQQQQQ"  # p_type p_flags p_offset p_vaddr p_paddr p_filesz p_memsz p_align


def complete_vmcore(vmcore, ram):
    """Gives a `dump-guest-memory paging=false` core what drgn needs of it and QEMU did not write:
    the guest kernel's own VMCOREINFO note (read from its RAM, where the kernel keeps it page
    aligned; QEMU writes it only with -device vmcoreinfo and a guest qemu_fw_cfg driver), and
    PT_LOAD segments with the kernel image's virtual addresses (va = __START_KERNEL_map + pa -
    phys_base, what `paging: true` would write for it), without which drgn 0.0.22 cannot read
    swapper_pg_dir to start any page-table walk. The program header table moves to the end of the
    file (e_phoff may point anywhere), so the guest memory is not rewritten."""
    note = vmcoreinfo.find(Path(ram))
    phys_base = int(note["fields"]["NUMBER(phys_base)"])
    with open(ram, "rb") as f:
        f.seek(note["offset"])
        namesz, descsz, _ = struct.unpack("<III", f.read(12))
        f.seek(note["offset"])
        blob = f.read(12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3))
    with open(vmcore, "r+b") as f:
        ehdr = bytearray(f.read(64))
        check(ehdr[:4] == b"\x7fELF" and ehdr[4] == 2, f"{vmcore}: not an ELF64 core")
        phoff, = struct.unpack_from("<Q", ehdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 0x36)
        check(phentsize == struct.calcsize(PHDR), f"{vmcore}: phentsize {phentsize}")
        f.seek(phoff)
        phdrs = [struct.unpack(PHDR, f.read(phentsize)) for _ in range(phnum)]
        extra = []
        for p_type, _flags, off, _va, pa, filesz, _memsz, _align in phdrs:
            lo, hi = max(pa, phys_base), min(pa + filesz, phys_base + KERNEL_IMAGE_SIZE)
            if p_type == PT_LOAD and lo < hi:
                extra.append((PT_LOAD, 7, off + lo - pa, START_KERNEL_MAP + lo - phys_base, lo, hi - lo, hi - lo, 4096))
        end = f.seek(0, 2)
        new_phoff = (end + 7) & ~7
        table = phdrs + extra + [None]
        note_off = new_phoff + phentsize * len(table)
        table[-1] = (PT_NOTE, 0, note_off, 0, 0, len(blob), 0, 4)
        f.write(b"\0" * (new_phoff - end) + b"".join(struct.pack(PHDR, *p) for p in table) + blob)
        struct.pack_into("<Q", ehdr, 0x20, new_phoff)
        struct.pack_into("<H", ehdr, 0x38, len(table))
        f.seek(0)
        f.write(ehdr)


def vmlinux_has_dwarf(path):
    res = subprocess.run(["readelf", "-S", "-W", str(path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return b".debug_info" in res.stdout


def drgn_route(g, vmlinux, workdir):
    """{'window_us', 'vmcore_bytes', 'read_s', 'walk_s', 'maps', 'tasks', 'notes'}, with 'reason'
    when drgn could not read the guest."""
    drgn = shutil.which("drgn")
    if not drgn:
        return {"reason": "python3-drgn not installed (deploy/install-deps.sh installs bookworm's)"}
    vmcore = Path("/dev/shm") / f"kfreeze-bench-{g.name}.vmcore"
    vmcore.unlink(missing_ok=True)
    try:
        with Qmp(g.qmp) as q:
            t0 = time.perf_counter_ns()
            q.command("dump-guest-memory", {"paging": False, "protocol": f"file:{vmcore}"})
            window_us = (time.perf_counter_ns() - t0) / 1000
            check(q.command("query-status")["status"] == "running", "guest not running after dump-guest-memory")
        out = {"window_us": window_us, "vmcore_bytes": vmcore.stat().st_size, "notes": []}
        if not vmcore_has_vmcoreinfo(vmcore):
            complete_vmcore(vmcore, g.ram)
            out["notes"].append("VMCOREINFO note and kernel-image virtual segments added to the vmcore "
                                "(QEMU ran without -device vmcoreinfo; paging=false writes no virtual addresses)")
        script = Path(workdir) / "drgn_scale.py"
        script.write_text(DRGN_SCRIPT)
        t0 = time.perf_counter()
        res = subprocess.run([drgn, "-q", "-c", str(vmcore), "-s", str(vmlinux), str(script)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=DRGN_TIMEOUT_S)
        out["read_s"] = time.perf_counter() - t0
        last = (res.stdout.decode(errors="replace").strip().splitlines() or [""])[-1]
        if res.returncode == 0 and last.startswith("{"):
            doc = json.loads(last)
            out.update(maps=sum(doc["maps"].values()), tasks=doc["tasks"], walk_s=doc["walk_s"])
            if doc["bad"]:
                out["notes"].append(f"{doc['bad']} entries read by drgn do not hold the scenario's values")
            return out
        lines = [ln.strip() for ln in (res.stderr + res.stdout).decode(errors="replace").splitlines() if ln.strip()]
        why = [f"drgn exited {res.returncode}: {lines[-1] if lines else '?'}"]
        if not vmlinux_has_dwarf(vmlinux):
            why.append(f"{vmlinux} has no DWARF (the lab keeps the BTF-only vmlinux of the bzImage; "
                       f"drgn {drgn_version(drgn)} reads DWARF types: pass --drgn-vmlinux, e.g. the vmlinux "
                       f"of Debian's linux-image-<release>-dbg)")
        out["reason"] = "; ".join(why)
        return out
    finally:
        vmcore.unlink(missing_ok=True)


def drgn_version(drgn):
    res = subprocess.run([drgn, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return res.stdout.decode(errors="replace").split(" (")[0].replace("drgn ", "").strip()


def measure_size(args, entries, tasks, uncapped, vmlinux, workdir):
    name = f"{args.name}-{entries}"
    params = {"entries": entries, "value_size": args.value_size, "maps": 1, "tasks": tasks}
    row = {"size": f"{entries}/{tasks}", "entries_expected": entries}
    with labclient.guest(name, "scale", params=params, mem=args.mem) as g:
        row["routes"] = {"kfreeze dump": rounds(args, g, lambda: dump(args.kfreeze, g, uncapped))}
        if args.kfreezed:
            ddir = Path(workdir) / name
            ddir.mkdir()
            with Daemon(args.kfreezed, args.kfreeze, ddir, [f"name={name},ram={g.ram},qmp={g.qmp}"]) as d:
                d.wait_attached(name)
                row["routes"]["kfreezed"] = rounds(args, g, lambda: freeze_rpc(d, name, uncapped))
        row["drgn"] = drgn_route(g, vmlinux, workdir) if args.drgn == "auto" else {"reason": "--drgn off"}
    return row


def rounds(args, g, take):
    """--rounds dumps by `take` after a warm-up one (page cache, BTF caches), bare stop+cont timed
    between them (QEMU serves one QMP client at a time), summarized."""
    take()
    dumps, stop_cont = [], []
    for _ in range(args.rounds):
        dumps.append(take())
        stop_cont += stop_cont_us(g.qmp, STOP_CONT_PER_GAP)
    med = lambda key: statistics.median(d["timings"].get(key, 0) for d in dumps)  # noqa: E731
    wbytes = [d["window_bytes"] for d in dumps if d["window_bytes"] is not None]
    row = dict(
        entries=min(d["entries"] for d in dumps), rendered=min(d["rendered"] for d in dumps),
        map_errors=sorted({e for d in dumps for e in d["map_errors"]}),
        tasks=min(d["tasks"] for d in dumps), idle_tasks=min(d["idle_tasks"] for d in dumps),
        window_us=med("freeze_window"), copy_us=med("copy"), decode_us=med("decode"),
        maps_us=med("maps"), tasks_us=med("tasks"),
        stop_cont_us=statistics.median(stop_cont),
        window_bytes=int(statistics.median(wbytes)) if wbytes else None)
    row["memcpy_us"] = memcpy_us(row["window_bytes"]) if row["window_bytes"] is not None else None
    if row["memcpy_us"] is not None:
        row["ratio"] = row["window_us"] / (row["stop_cont_us"] + row["memcpy_us"])
    return row


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f}"


def print_table(rows, rounds, value_size, uncapped, max_ratio):
    print(f"\nscale_window: median of {rounds} dumps per size (stop+cont: {STOP_CONT_PER_GAP} per gap between "
          f"dumps); value struct {value_size} B; kfreeze dump {'--max-map-entries 0' if uncapped else '(default map cap: --max-map-entries not in this build)'}")
    head = ("route", "entries/tasks", "rendered", "tasks", "window_bytes", "window ms", "stop+cont ms",
            "memcpy ms", "ratio", "copy ms", "decode ms")
    lines = [head]

    def route_line(route, size, r):
        return (route, size, f"{r['rendered']}/{r['entries']}", str(r["tasks"]),
                "n/a" if r["window_bytes"] is None else str(r["window_bytes"]), ms(r["window_us"]),
                ms(r["stop_cont_us"]), ms(r["memcpy_us"]),
                "n/a" if r.get("ratio") is None else f"{r['ratio']:.2f}",
                ms(r["copy_us"] or None), ms(r["decode_us"] or None))

    for r in rows:
        lines += [route_line(route, r["size"], x) for route, x in r["routes"].items()]
        d = r["drgn"]
        lines.append(("drgn", r["size"], str(d.get("maps", "-")), str(d.get("tasks", "-")),
                      str(d.get("vmcore_bytes", "-")), ms(d.get("window_us")), "", "", "", "",
                      f"{d['walk_s'] * 1000:.0f}" if "walk_s" in d else "-"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths)))
    print("(drgn: window = dump-guest-memory with the guest stopped; window_bytes = vmcore size; "
          "decode ms = the drgn script's walk of the map entries (key+value read) and the task list)")
    for r in rows:
        d = r["drgn"]
        if d.get("reason"):
            print(f"drgn {r['size']}: not available ({d['reason']})")
        elif "read_s" in d:
            print(f"drgn {r['size']}: whole drgn run {d['read_s']:.1f} s (loading the DWARF vmlinux included)")
        for note in d.get("notes", []):
            print(f"drgn {r['size']}: {note}")
        for route, x in r["routes"].items():
            if x["map_errors"]:
                print(f"{route} {r['size']}: map errors: {x['map_errors']}")
            if x["entries"] != r["entries_expected"] or x["idle_tasks"] < int(r["size"].split("/")[1]):
                print(f"{route} {r['size']}: INCOMPLETE: {x['entries']} of {r['entries_expected']} entries, "
                      f"{x['idle_tasks']} lab_scale_idle tasks")
            print(f"{route} {r['size']}: maps phase {ms(x['maps_us'])} ms, tasks phase {ms(x['tasks_us'])} ms")
            complete = (x["entries"] == x["rendered"] == r["entries_expected"]
                        and x["idle_tasks"] >= int(r["size"].split("/")[1]))
            ratio = "n/a (no window_bytes)" if x.get("ratio") is None else \
                f"{x['ratio']:.2f} {'<=' if x['ratio'] <= max_ratio else '>'} {max_ratio}"
            print(f"{route} {r['size']}: window/(stop+cont+memcpy) {ratio}; full report "
                  f"{'yes' if complete else 'NO'}")


def parse_sizes(text):
    sizes = []
    for part in text.split(","):
        entries, _, tasks = part.partition(":")
        sizes.append((int(entries), int(tasks or 0)))
    return sizes


def main():
    ap = arg_parser(__doc__, "bench-scale", "kfreeze")
    ap.add_argument("--kfreezed", help="also freeze through this kfreezed (the daemon route)")
    ap.add_argument("--sizes", default="1000:200,10000:2000,100000:2000", help="ENTRIES:TASKS,...")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--value-size", type=int, default=64, choices=(16, 64, 256))
    ap.add_argument("--mem", type=int, default=1024, help="guest MiB")
    ap.add_argument("--drgn", choices=("auto", "off"), default="auto")
    ap.add_argument("--drgn-vmlinux", help="vmlinux with DWARF for drgn (default: the lab's, which has none)")
    ap.add_argument("--max-ratio", type=float, default=1.5,
                    help="the bound each row's window/(stop+cont+memcpy) is judged against (default 1.5)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()

    def body():
        uncapped = has_max_map_entries(args.kfreeze)
        vmlinux = args.drgn_vmlinux or (labclient.fetch()["VMLINUX"] if args.drgn == "auto" else None)
        rows = []
        with tempfile.TemporaryDirectory(prefix="scale-window-") as workdir:
            for entries, tasks in parse_sizes(args.sizes):
                print(f"size {entries} entries / {tasks} tasks ...", flush=True)
                rows.append(measure_size(args, entries, tasks, uncapped, vmlinux, workdir))
        print_table(rows, args.rounds, args.value_size, uncapped, args.max_ratio)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        return 0

    return outcome(body)


if __name__ == "__main__":
    sys.exit(main())
