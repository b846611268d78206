#!/usr/bin/python3
"""Two guests up at once, both cheap to keep running:

- `idle`, booted from a copy in a temporary directory (any scenario path works) with KASLR off,
  1 CPU, 512 MiB and a file added with --add: the `lab up` output contract, the command channel,
  `lab truth` of an idle guest, VMCOREINFO read from the RAM file while the guest runs.
- `maps` with KASLR on (the default): `lab truth` must return exactly the values the scenario (and
  lab_fill in tests/vm/bpf/lab_typed.bpf.c) wrote, for every required map type and BTF type shape;
  VMCOREINFO agrees with the randomized layout.

`lab down` must then leave no process, socket or RAM file behind (checked in tearDownModule).
"""

import json
import re
import shutil
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

import vmcoreinfo
from common import (EXPECTED_TRUTH_KEYS, PREFIX, assert_guest_gone, boot, bpftool_bytes, datasec, dump_of,
                    labclient, le_int, main, maps_by_name, print_boot)

IDLE = PREFIX + "idle"
MAPS = PREFIX + "maps"
CONTRACT_KEYS = ["RAM", "QMP", "CONSOLE", "CMD", "PID", "ACCEL"]
REQUIRED_TYPES = {
    "lab_array": "array", "lab_hash": "hash", "lab_lru_hash": "lru_hash",
    "lab_pcpu_array": "percpu_array", "lab_pcpu_hash": "percpu_hash",
    "lab_lru_pcpu_h": "lru_percpu_hash", "lab_queue": "queue", "lab_stack": "stack",
    "lab_bloom": "bloom_filter", "lab_lpm": "lpm_trie", "lab_ringbuf": "ringbuf",
    "lab_inner": "array", "lab_arr_of_maps": "array_of_maps", "lab_hash_of_map": "hash_of_maps",
    "lab_prog_array": "prog_array",
    "lab_typed_array": "array", "lab_typed_hash": "hash", "lab_typed_pcpu": "percpu_array",
    "lab_typed_rb": "ringbuf",
}
BPFFS = "/sys/fs/bpf/lab"
G = {}  # module fixture: guest infos, truths, raw `lab up` output


def setUpModule():
    G["kernel"] = labclient.fetch()["KERNEL"]
    G["tmp"] = tempfile.TemporaryDirectory(prefix="kfreeze-vm-test-")
    tmp = Path(G["tmp"].name)
    scenario = tmp / "idle-copy"
    shutil.copyfile(labclient.LAB.parent / "scenarios" / "idle", scenario)
    marker = tmp / "marker.txt"
    marker.write_text("added with --add\n")
    try:
        for name in (IDLE, MAPS):
            labclient.down(name)
        # Raw `lab up` for the idle guest, to check the exact output lines.
        res = subprocess.run([str(labclient.LAB), "up", IDLE, "--scenario", str(scenario), "--kaslr", "off",
                              "--cpus", "1", "--mem", "512", "--add", f"{marker}=/root/marker.txt"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if res.returncode != 0:
            raise AssertionError(f"lab up {IDLE} failed:\n{res.stderr}")
        G["idle_up_lines"] = res.stdout.splitlines()
        G["idle"] = labclient.parse_kv(res.stdout)
        print_boot(IDLE, G["idle"])
        G["maps"] = boot(MAPS, "maps")
        G["idle_truth"] = labclient.truth(IDLE)
        G["maps_truth"] = labclient.truth(MAPS)
    except BaseException:
        for name in (IDLE, MAPS):
            labclient.down(name)
        raise


def tearDownModule():
    G["tmp"].cleanup()
    problems = []
    for name in (IDLE, MAPS):
        info = G.get(name[len(PREFIX):])
        if not labclient.down(name):
            problems.append(f"{name} was not up at teardown")
        if info:
            try:
                assert_guest_gone(unittest.TestCase(), info)
            except AssertionError as e:
                problems.append(str(e))
        if labclient.down(name):
            problems.append(f"second `lab down {name}` did not report NOT_UP")
    if problems:
        raise AssertionError("; ".join(problems))


def check_vmcoreinfo(test, info: dict, truth: dict) -> dict:
    """The note read from the RAM file agrees with the guest's own release and _text address."""
    fields = vmcoreinfo.find(Path(info["RAM"]))["fields"]
    test.assertEqual(fields["OSRELEASE"], truth["release"])
    test.assertEqual(vmcoreinfo.is_arm64(fields), truth["release"].endswith("-arm64"))
    slide = int(fields["KERNELOFFSET"], 16)
    test.assertEqual(int(truth["kallsyms"]["_text"], 16), vmcoreinfo.default_text(fields) + slide)
    return fields


def linear_map(test, name: str, info: dict, fields: dict) -> int:
    """The linear map's randomized variable (page_offset_base / memstart_addr) read from RAM; on
    arm64 it must equal VMCOREINFO's PHYS_OFFSET."""
    symbol = vmcoreinfo.linear_map_symbol(fields)
    va = int(labclient.exec(name, f"lab_ksyms {symbol}", check=True).stdout.split()[0], 16)
    value = vmcoreinfo.read_kernel_u64(Path(info["RAM"]), fields, va)
    if vmcoreinfo.is_arm64(fields):
        test.assertEqual(value, int(fields["NUMBER(PHYS_OFFSET)"], 0), symbol)
    return value


class TwoGuestsTest(unittest.TestCase):
    def test_guests_are_distinct_and_listed(self):
        for key in CONTRACT_KEYS[:5]:
            self.assertNotEqual(G["idle"][key], G["maps"][key])
        listed = subprocess.run([str(labclient.LAB), "list"], stdout=subprocess.PIPE, text=True).stdout
        self.assertRegex(listed, rf"(?m)^{IDLE} running ")
        self.assertRegex(listed, rf"(?m)^{MAPS} running ")


class IdleGuestTest(unittest.TestCase):
    def test_up_prints_contract_lines_first(self):
        keys = [line.partition("=")[0] for line in G["idle_up_lines"][:6]]
        self.assertEqual(keys, CONTRACT_KEYS)
        info = G["idle"]
        self.assertIn(info["ACCEL"], ("tcg", "kvm"))
        self.assertTrue(Path(info["RAM"]).is_file())
        self.assertTrue(Path(info["QMP"]).is_socket())
        self.assertTrue(Path(info["CMD"]).is_socket())
        self.assertTrue(Path(f"/proc/{info['PID']}").exists())
        self.assertRegex(info["RETRIES"], r"^\d+$")

    def test_ram_file_size_follows_mem(self):
        self.assertEqual(Path(G["idle"]["RAM"]).stat().st_size, 512 << 20)
        self.assertEqual(Path(G["maps"]["RAM"]).stat().st_size, 1024 << 20)

    def test_truth_of_idle_guest(self):
        t = G["idle_truth"]
        self.assertEqual(list(t), EXPECTED_TRUTH_KEYS)
        self.assertEqual(t["release"], G["kernel"])
        self.assertEqual(t["nr_cpus"], 1)
        self.assertEqual(G["maps_truth"]["nr_cpus"], 2)
        self.assertEqual(sorted(t["kallsyms"]), sorted(["_text", "init_task", "map_idr", "prog_idr",
                                                        "scx_root", "runqueues", "__per_cpu_offset"]))
        for name, addr in t["kallsyms"].items():
            self.assertRegex(addr, r"^0x[0-9a-f]{16}$", name)
        self.assertEqual(t["maps"], [])
        self.assertEqual(t["map_dumps"], {})
        self.assertEqual(t["progs"], [])
        self.assertEqual(t["sched_ext"]["state"], "disabled")
        self.assertEqual(t["sched_ext"]["enable_seq"], "0")
        self.assertEqual(t["dmesg_scx"], [])
        by_pid = {task["pid"]: task for task in t["tasks"]}
        self.assertEqual(by_pid[1]["comm"], "busybox")
        self.assertIn("cmdloop", {task["comm"] for task in t["tasks"]})
        for task in t["tasks"]:
            self.assertRegex(task["state"], r"^[RSDTtZXIPK]$", task)
        self.assertEqual([line.split()[0] for line in t["proc_stat_cpu"]], ["cpu", "cpu0"])
        for res in ("cpu", "io", "memory"):
            self.assertRegex(t["pressure"][res], r"^some avg10=", res)

    def test_exec_status_and_streams(self):
        res = labclient.exec(IDLE, "echo out; echo err >&2; exit 7")
        self.assertEqual((res.rc, res.stdout, res.stderr), (7, "out\n", "err\n"))
        res = labclient.exec(IDLE, ["printf", "%s|", "two words", "it's", "$HOME"])
        self.assertEqual(res.stdout, "two words|it's|$HOME|")
        res = labclient.exec(IDLE, "cat /proc/cpuinfo | grep -c ^processor")
        self.assertEqual(res.stdout.strip(), "1")

    def test_exec_large_binary_output(self):
        res = labclient.exec(IDLE, "dd if=/dev/zero bs=1024 count=192 2>/dev/null; printf '\\377\\001'")
        self.assertEqual(res.rc, 0)
        self.assertEqual(res.stdout_bytes, b"\0" * 192 * 1024 + b"\xff\x01")

    def test_added_file_is_in_guest(self):
        res = labclient.exec(IDLE, "cat /root/marker.txt", check=True)
        self.assertEqual(res.stdout, "added with --add\n")

    def test_vmcoreinfo_in_ram_with_kaslr_off(self):
        fields = check_vmcoreinfo(self, G["idle"], G["idle_truth"])
        self.assertEqual(fields["KERNELOFFSET"], "0")
        self.assertIn("nokaslr", labclient.exec(IDLE, "cat /proc/cmdline").stdout)
        self.assertEqual(linear_map(self, IDLE, G["idle"], fields), vmcoreinfo.default_linear_map(fields))


class MapsGuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.truth = G["maps_truth"]
        cls.console = Path(G["maps"]["CONSOLE"]).read_text()

    def test_vmcoreinfo_in_ram_with_kaslr_on(self):
        fields = check_vmcoreinfo(self, G["maps"], self.truth)
        self.assertNotIn("nokaslr", labclient.exec(MAPS, "cat /proc/cmdline").stdout)
        # Either randomization may land on its default by chance, both together practically never.
        base = linear_map(self, MAPS, G["maps"], fields)
        self.assertTrue(fields["KERNELOFFSET"] != "0" or base != vmcoreinfo.default_linear_map(fields),
                        "neither the kernel image nor the direct map is randomized")

    def test_required_map_types_exist(self):
        by_name = maps_by_name(self.truth)
        for name, mtype in REQUIRED_TYPES.items():
            self.assertIn(name, by_name)
            self.assertEqual(by_name[name]["type"], mtype, name)
        for m in self.truth["maps"]:
            self.assertIn(str(m["id"]), self.truth["map_dumps"], m["name"])

    def test_optional_map_types_reported_and_present(self):
        created = re.findall(r"KFREEZE-MAPS-OPTIONAL created (\S+)", self.console)
        self.assertGreaterEqual(len(created), 1, self.console)
        types = {m["type"] for m in self.truth["maps"]}
        for mtype in created:
            self.assertIn(mtype, types)

    def test_plain_maps_hold_written_values(self):
        t = self.truth
        self.assertEqual(entries(t, "lab_array"), {i: 0x1000 + i for i in range(4)})
        self.assertEqual(entries(t, "lab_hash"), {k: k * 256 + 1 for k in (10, 20, 30)})
        self.assertEqual(entries(t, "lab_lru_hash"), {1: 0xA1, 2: 0xA2})
        cpus = t["nr_cpus"]
        self.assertEqual(percpu_entries(t, "lab_pcpu_array"), {0: [0xC0FFEE] * cpus, 1: [0xBEEF] * cpus})
        self.assertEqual(percpu_entries(t, "lab_pcpu_hash"), {5: [0x55] * cpus})
        self.assertEqual(percpu_entries(t, "lab_lru_pcpu_h"), {6: [0x66] * cpus})
        self.assertEqual(entries(t, "lab_inner"), {0: 0x1234})

    def test_lpm_trie(self):
        got = {(le_int(e["key"][:4]), bpftool_bytes(e["key"][4:])): le_int(e["value"])
               for e in dump_of(self.truth, "lab_lpm")}
        self.assertEqual(got, {(24, bytes([10, 1, 2, 0])): 0x1024, (8, bytes([10, 0, 0, 0])): 0x08})

    def test_map_in_map_and_prog_array_reference_ids(self):
        by_name = maps_by_name(self.truth)
        inner = by_name["lab_inner"]["id"]
        self.assertEqual(entries(self.truth, "lab_arr_of_maps"), {0: inner})
        self.assertEqual(entries(self.truth, "lab_hash_of_map"), {7: inner})
        (fill,) = [p for p in self.truth["progs"] if p["name"] == "lab_fill"]
        self.assertEqual(fill["type"], "xdp")
        self.assertEqual(entries(self.truth, "lab_prog_array"), {1: fill["id"]})
        self.assertIn(by_name["lab_typed_array"]["id"], fill["map_ids"])

    def test_queue_and_stack_order(self):
        # bpftool cannot dump queue/stack maps (truth shows []); peek shows the head.
        def peek(m):
            res = labclient.exec(MAPS, f"bpftool -j map peek pinned {BPFFS}/{m}", check=True)
            return le_int(json.loads(res.stdout)["value"])

        self.assertEqual(peek("lab_queue"), 0x71)
        self.assertEqual(peek("lab_stack"), 0x82)

    def test_data_section(self):
        d = datasec(self.truth, ".data")
        self.assertEqual(d["lab_data_counter"], 7)
        self.assertEqual(d["lab_data_text"], "hello from .data")
        rec = d["lab_data_rec"]
        self.assertEqual(rec["id"], 0x1122334455667788)
        self.assertEqual(rec["name"], "kfreeze-data")
        self.assertEqual(rec["color"], "LAB_GREEN")
        # bpftool prints bitfields as unsigned hex; negative:4 = -3 is 0xd.
        self.assertEqual(rec["bits"], {"low": "0x5", "mid": "0x11", "high": "0xbb8", "negative": "0xd",
                                       "wide": "0x123456789a"})
        self.assertEqual(rec["word"]["as_u32"], 0xDEADBEEF)
        self.assertEqual(rec["word"]["bytes"], [0xEF, 0xBE, 0xAD, 0xDE])
        self.assertEqual(rec["grid"], [[{"x": 2 * i * 3 + 2 * j + 1, "y": 2 * i * 3 + 2 * j + 2}
                                        for j in range(3)] for i in range(2)])
        self.assertEqual(rec["matrix"], [[100, 200], [300, 400]])
        self.assertEqual(rec["opaque"], 0xFFFF888012345678)
        self.assertEqual(rec["next"], 0xFFFFFFFF81000000)
        self.assertIs(rec["flag"], True)
        # bpftool 7.1 cannot render floats; the raw bytes carry them (record is last in .data,
        # ending in float ratio, double precise).
        raw = bpftool_bytes(dump_of(self.truth, data_map(self.truth))[0]["value"])
        self.assertEqual(struct.unpack("<fd", raw[-12:]), (1.5, 2.25))

    def test_rodata_section(self):
        r = datasec(self.truth, ".rodata")
        self.assertEqual(r, {"lab_ro_origin": {"x": -11, "y": 22}, "lab_ro_magic": 0x4B465245455A45,
                             "lab_ro_banner": "kfreeze-rodata", "lab_ro_color": "LAB_BLUE"})

    def test_bss_section_written_by_lab_fill(self):
        b = datasec(self.truth, ".bss")
        self.assertEqual(b["lab_bss_runs"], 1)
        self.assertEqual(b["lab_bss_table"], [[i, -i] for i in range(1, 5)])
        self.check_filled_record(b["lab_bss_rec"], 42)

    def check_filled_record(self, rec: dict, rec_id: int):
        self.assertEqual(rec["id"], rec_id)
        self.assertEqual(rec["name"], "kfreeze-bss")
        self.assertEqual(rec["color"], "LAB_BLUE")
        self.assertEqual(rec["bits"], {"low": "0x2", "mid": "0x9", "high": "0x4d2", "negative": "0xf",
                                       "wide": "0xabcdef0123"})
        self.assertEqual(rec["word"], {"as_u32": 0x01020304, "bytes": [4, 3, 2, 1], "halves": [0x0304, 0x0102]})
        self.assertEqual(rec["grid"], [[{"x": rec_id + 10 * i + j, "y": -(10 * i + j)} for j in range(3)]
                                       for i in range(2)])
        self.assertEqual(rec["matrix"], [[11, 12], [21, 22]])
        self.assertEqual(rec["opaque"], 0xFFFF8880CAFEF00D)
        self.assertEqual(rec["next"], 0)
        self.assertIs(rec["flag"], True)

    def test_typed_maps_written_by_lab_fill(self):
        t = self.truth
        arr = dump_of(t, "lab_typed_array")
        self.assertEqual([e["formatted"]["key"] for e in arr], [0, 1, 2, 3])
        for e in arr:
            self.check_filled_record(e["formatted"]["value"], 1000 + e["formatted"]["key"])
            raw = bpftool_bytes(e["value"])
            self.assertEqual(struct.unpack("<fd", raw[-12:]), (0.25, -0.5))
        hashed = {(e["formatted"]["key"]["x"], e["formatted"]["key"]["y"]): e["formatted"]["value"]["as_u32"]
                  for e in dump_of(t, "lab_typed_hash")}
        self.assertEqual(hashed, {(k, -k): 0x100 * k for k in (1, 2, 3)})
        pcpu = dump_of(t, "lab_typed_pcpu")
        self.assertEqual(pcpu[0]["formatted"]["values"][0], {"cpu": 0, "value": {"x": 77, "y": -77}})

    def test_no_scheduler(self):
        self.assertEqual(self.truth["sched_ext"]["state"], "disabled")


def entries(truth, name) -> dict:
    """key (int) -> value (int) for a map dumped without BTF."""
    return {le_int(e["key"]): le_int(e["value"]) for e in dump_of(truth, name)}


def percpu_entries(truth, name) -> dict:
    return {le_int(e["key"]): [le_int(v["value"]) for v in e["values"]] for e in dump_of(truth, name)}


def data_map(truth) -> str:
    (name,) = [m["name"] for m in truth["maps"] if m["name"].endswith(".data")]
    return name


if __name__ == "__main__":
    main()
