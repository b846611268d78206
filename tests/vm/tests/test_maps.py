#!/usr/bin/python3
"""The `maps` scenario: `lab truth` must return exactly the values the scenario (and lab_fill in
tests/vm/bpf/lab_typed.bpf.c) wrote, for every required map type and every BTF type shape."""

import json
import re
import struct
import unittest
from pathlib import Path

from common import PREFIX, datasec, dump_of, labclient, le_int, main, maps_by_name

NAME = PREFIX + "maps"
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


def entries(truth, name) -> dict:
    """key (int) -> value (int) for a map dumped without BTF."""
    return {le_int(e["key"]): le_int(e["value"]) for e in dump_of(truth, name)}


def percpu_entries(truth, name) -> dict:
    return {le_int(e["key"]): [le_int(v["value"]) for v in e["values"]] for e in dump_of(truth, name)}


class MapsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        labclient.down(NAME)
        cls.info = labclient.up(NAME, "maps")
        print(f"\nboot: {cls.info['BOOT_SECONDS']}s retries={cls.info['RETRIES']}", flush=True)
        cls.truth = labclient.truth(NAME)
        cls.console = Path(cls.info["CONSOLE"]).read_text()

    @classmethod
    def tearDownClass(cls):
        labclient.down(NAME)

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
        got = {(le_int(e["key"][:4]), bytes(int(b, 16) for b in e["key"][4:])): le_int(e["value"])
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
            res = labclient.exec(NAME, f"bpftool -j map peek pinned {BPFFS}/{m}", check=True)
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
        raw = bytes(int(b, 16) for b in dump_of(self.truth, data_map(self.truth))[0]["value"])
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
            raw = bytes(int(b, 16) for b in e["value"])
            self.assertEqual(struct.unpack("<fd", raw[-12:]), (0.25, -0.5))
        hashed = {(e["formatted"]["key"]["x"], e["formatted"]["key"]["y"]): e["formatted"]["value"]["as_u32"]
                  for e in dump_of(t, "lab_typed_hash")}
        self.assertEqual(hashed, {(k, -k): 0x100 * k for k in (1, 2, 3)})
        pcpu = dump_of(t, "lab_typed_pcpu")
        self.assertEqual(pcpu[0]["formatted"]["values"][0], {"cpu": 0, "value": {"x": 77, "y": -77}})

    def test_no_scheduler(self):
        self.assertEqual(self.truth["sched_ext"]["state"], "disabled")


def data_map(truth) -> str:
    (name,) = [m["name"] for m in truth["maps"] if m["name"].endswith(".data")]
    return name


if __name__ == "__main__":
    main()
