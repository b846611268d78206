#!/usr/bin/python3
"""The `scx-running` scenario: lab_running is the enabled sched_ext scheduler, dispatching lab
workloads through its user DSQ and everything else through the global DSQ, and `lab truth` shows it
(sysfs, dmesg, the scheduler's .bss counters, tasks)."""

import unittest

from common import PREFIX, boot, datasec, labclient, main, maps_by_name

NAME = PREFIX + "scx-running"
USER_DSQ = 0x4B46


class ScxRunningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.info = boot(NAME, "scx-running")
        cls.truth = labclient.truth(NAME)

    @classmethod
    def tearDownClass(cls):
        labclient.down(NAME)

    def test_sched_ext_sysfs(self):
        scx = self.truth["sched_ext"]
        self.assertEqual(scx["state"], "enabled")
        self.assertEqual(scx["root_ops"], "lab_running")
        self.assertEqual(scx["enable_seq"], "1")

    def test_dmesg_shows_enable(self):
        self.assertTrue(any('BPF scheduler "lab_running" enabled' in line for line in self.truth["dmesg_scx"]),
                        self.truth["dmesg_scx"])

    def test_struct_ops_and_programs_loaded(self):
        self.assertEqual(maps_by_name(self.truth)["lab_running"]["type"], "struct_ops")
        progs = {p["name"]: p["type"] for p in self.truth["progs"]}
        for name in ("lab_enqueue", "lab_dispatch", "lab_init", "lab_exit"):
            self.assertEqual(progs.get(name), "struct_ops", name)

    def test_both_dsqs_carry_traffic(self):
        bss = datasec(self.truth, ".bss")
        self.assertGreater(bss["lab_nr_enq_global"], 0)
        self.assertGreater(bss["lab_nr_enq_user"], 0)
        self.assertGreater(bss["lab_nr_moved"], 0)
        self.assertEqual(bss["lab_exit_rec"]["seen"], 0)
        self.assertEqual(datasec(self.truth, ".data")["lab_init_ret"], 0)
        self.assertEqual(datasec(self.truth, ".rodata")["lab_user_dsq_id"], USER_DSQ)

    def test_user_dsq_is_not_empty(self):
        # 3 spinning threads on 2 CPUs: one is always waiting in the user DSQ.
        depth = datasec(labclient.truth(NAME), ".bss")["lab_user_dsq_depth"]
        self.assertGreaterEqual(depth, 1)

    def test_workloads_run(self):
        comms = {}
        for task in self.truth["tasks"]:
            comms.setdefault(task["comm"], []).append(task["state"])
        self.assertIn("lab_spin", comms)
        self.assertEqual(len(comms["lab_sleeper"]), 2)
        threads = labclient.exec(NAME, "ls /proc/$(pidof lab_spin)/task | wc -l", check=True)
        self.assertEqual(threads.stdout.strip(), "3")


if __name__ == "__main__":
    main()
