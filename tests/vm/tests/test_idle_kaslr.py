#!/usr/bin/python3
"""Two guests up at once: the shipped `idle` scenario with KASLR on, and a scenario file from a
temporary directory with KASLR off, 1 CPU and 512 MiB. Checks the `lab up` output contract, the
command channel, `lab truth` for an idle guest, the VMCOREINFO note read from the RAM files while
the guests run (and that it agrees with KASLR on/off), and that `lab down` leaves nothing behind."""

import mmap
import re
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path

import vmcoreinfo
from common import EXPECTED_TRUTH_KEYS, PREFIX, assert_guest_gone, labclient, main

KASLR_ON = PREFIX + "idle-kaslr-on"
KASLR_OFF = PREFIX + "custom-kaslr-off"
CONTRACT_KEYS = ["RAM", "QMP", "CONSOLE", "CMD", "PID", "ACCEL"]
CUSTOM_SCENARIO = """#!/bin/sh
. /lab/lablib.sh
echo "custom scenario ran" > /run/custom-marker
lab_ready
"""
DEFAULT_TEXT = 0xFFFFFFFF81000000
START_KERNEL_MAP = 0xFFFFFFFF80000000
# Direct-map base without KASLR (RANDOMIZE_MEMORY off) for 5- and 4-level paging.
DEFAULT_PAGE_OFFSET = {"1": 0xFF11000000000000, "0": 0xFFFF888000000000}


def read_u64(ram: Path, offset: int) -> int:
    with open(ram, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mem:
        return struct.unpack_from("<Q", mem, offset)[0]


class IdleAndKaslrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.kernel = labclient.fetch()["KERNEL"]
        cls.tmp = tempfile.TemporaryDirectory(prefix="kfreeze-vm-scenario-")
        cls.custom = Path(cls.tmp.name) / "my-scenario"
        cls.custom.write_text(CUSTOM_SCENARIO)
        for name in (KASLR_ON, KASLR_OFF):
            labclient.down(name)
        # Raw `lab up` for the first guest, to check the exact output lines.
        res = subprocess.run([str(labclient.LAB), "up", KASLR_ON, "--scenario", "idle"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if res.returncode != 0:
            raise AssertionError(f"lab up {KASLR_ON} failed:\n{res.stderr}")
        cls.up_lines = res.stdout.splitlines()
        cls.on = labclient.parse_kv(res.stdout)
        cls.off = labclient.up(KASLR_OFF, str(cls.custom), kaslr="off", cpus=1, mem=512)
        print(f"\nboot: kaslr-on {cls.on['BOOT_SECONDS']}s retries={cls.on['RETRIES']} "
              f"accel={cls.on['ACCEL']}; kaslr-off {cls.off['BOOT_SECONDS']}s "
              f"retries={cls.off['RETRIES']}", flush=True)
        cls.truth_on = labclient.truth(KASLR_ON)
        cls.truth_off = labclient.truth(KASLR_OFF)

    @classmethod
    def tearDownClass(cls):
        for name in (KASLR_ON, KASLR_OFF):
            labclient.down(name)
        cls.tmp.cleanup()

    def test_up_prints_contract_lines_first(self):
        keys = [line.partition("=")[0] for line in self.up_lines[:6]]
        self.assertEqual(keys, CONTRACT_KEYS)
        self.assertIn(self.on["ACCEL"], ("tcg", "kvm"))
        self.assertTrue(Path(self.on["RAM"]).is_file())
        self.assertTrue(Path(self.on["QMP"]).is_socket())
        self.assertTrue(Path(self.on["CMD"]).is_socket())
        self.assertTrue(Path(f"/proc/{self.on['PID']}").exists())
        self.assertRegex(self.on["RETRIES"], r"^\d+$")

    def test_two_guests_are_distinct(self):
        for key in CONTRACT_KEYS[:5]:
            self.assertNotEqual(self.on[key], self.off[key])
        listed = subprocess.run([str(labclient.LAB), "list"], stdout=subprocess.PIPE, text=True).stdout
        self.assertRegex(listed, rf"(?m)^{KASLR_ON} running ")
        self.assertRegex(listed, rf"(?m)^{KASLR_OFF} running ")

    def test_ram_file_size_follows_mem(self):
        self.assertEqual(Path(self.on["RAM"]).stat().st_size, 1024 << 20)
        self.assertEqual(Path(self.off["RAM"]).stat().st_size, 512 << 20)

    def test_truth_of_idle_guest(self):
        t = self.truth_on
        self.assertEqual(list(t), EXPECTED_TRUTH_KEYS)
        self.assertEqual(t["release"], self.kernel)
        self.assertEqual(t["nr_cpus"], 2)
        self.assertEqual(self.truth_off["nr_cpus"], 1)
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
        self.assertEqual([line.split()[0] for line in t["proc_stat_cpu"]], ["cpu", "cpu0", "cpu1"])
        for res in ("cpu", "io", "memory"):
            self.assertRegex(t["pressure"][res], r"^some avg10=", res)

    def test_exec_status_and_streams(self):
        res = labclient.exec(KASLR_ON, "echo out; echo err >&2; exit 7")
        self.assertEqual((res.rc, res.stdout, res.stderr), (7, "out\n", "err\n"))
        res = labclient.exec(KASLR_ON, ["printf", "%s|", "two words", "it's", "$HOME"])
        self.assertEqual(res.stdout, "two words|it's|$HOME|")
        res = labclient.exec(KASLR_ON, "cat /proc/cpuinfo | grep -c ^processor")
        self.assertEqual(res.stdout.strip(), "2")

    def test_exec_large_binary_output(self):
        res = labclient.exec(KASLR_ON, "dd if=/dev/zero bs=1024 count=192 2>/dev/null; printf '\\377\\001'")
        self.assertEqual(res.rc, 0)
        self.assertEqual(res.stdout_bytes, b"\0" * 192 * 1024 + b"\xff\x01")

    def test_scenario_file_from_any_path_ran(self):
        res = labclient.exec(KASLR_OFF, "cat /run/custom-marker")
        self.assertEqual(res.stdout, "custom scenario ran\n")

    def check_vmcoreinfo(self, info: dict, truth: dict) -> dict:
        note = vmcoreinfo.find(Path(info["RAM"]))
        fields = note["fields"]
        self.assertEqual(fields["OSRELEASE"], truth["release"])
        offset = int(fields["KERNELOFFSET"], 16)
        self.assertEqual(int(truth["kallsyms"]["_text"], 16), DEFAULT_TEXT + offset)
        return fields

    def page_offset_base(self, info: dict, fields: dict) -> int:
        va = int(labclient.exec(info["NAME"], "lab_ksyms page_offset_base").stdout.split()[0], 16)
        return read_u64(Path(info["RAM"]), va - START_KERNEL_MAP + int(fields["NUMBER(phys_base)"]))

    def test_vmcoreinfo_in_ram_with_kaslr_off(self):
        fields = self.check_vmcoreinfo(self.off, self.truth_off)
        self.assertEqual(fields["KERNELOFFSET"], "0")
        self.assertIn("nokaslr", labclient.exec(KASLR_OFF, "cat /proc/cmdline").stdout)
        self.assertEqual(self.page_offset_base(self.off, fields),
                         DEFAULT_PAGE_OFFSET[fields["NUMBER(pgtable_l5_enabled)"]])

    def test_vmcoreinfo_in_ram_with_kaslr_on(self):
        fields = self.check_vmcoreinfo(self.on, self.truth_on)
        self.assertNotIn("nokaslr", labclient.exec(KASLR_ON, "cat /proc/cmdline").stdout)
        # Either randomization may land on its default by chance, both together practically never.
        pob = self.page_offset_base(self.on, fields)
        self.assertTrue(fields["KERNELOFFSET"] != "0" or
                        pob != DEFAULT_PAGE_OFFSET[fields["NUMBER(pgtable_l5_enabled)"]],
                        "neither the kernel image nor the direct map is randomized")
        self.assertTrue(re.fullmatch(r"[0-9a-f]+", fields["KERNELOFFSET"]))

    def test_zz_down_leaves_nothing_behind(self):
        # Runs last (alphabetical order); tearDownClass tolerates guests that are already down.
        for name, info in ((KASLR_ON, self.on), (KASLR_OFF, self.off)):
            self.assertTrue(labclient.down(name))
            assert_guest_gone(self, info)
            self.assertFalse(labclient.down(name), "second down must report NOT_UP")


if __name__ == "__main__":
    main()
