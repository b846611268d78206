#!/usr/bin/python3
"""The `scx-stall` scenario: lab_stall stops dispatching lab_stall tasks 4 s after ops.init and the
kernel watchdog (timeout_ms 2000) ejects it with an error-class exit (SCX_EXIT_ERROR_STALL), which
`lab truth` shows in dmesg, sysfs and the scheduler's own exit record."""

import unittest
from pathlib import Path

from common import PREFIX, boot, datasec, labclient, main, wait_for

NAME = PREFIX + "scx-stall"
SCX_EXIT_ERROR = 1024
SCX_EXIT_ERROR_STALL = 1026
EJECTION_TIMEOUT = 120


class ScxStallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.info = boot(NAME, "scx-stall")
        wait_for(lambda: "KFREEZE-SCX-STALL-EJECTED" in Path(cls.info["CONSOLE"]).read_text(),
                 EJECTION_TIMEOUT, "the watchdog to eject lab_stall")
        cls.truth = labclient.truth(NAME)

    @classmethod
    def tearDownClass(cls):
        labclient.down(NAME)

    def test_sysfs_shows_disabled_after_an_enable(self):
        scx = self.truth["sched_ext"]
        self.assertEqual(scx["state"], "disabled")
        self.assertEqual(scx["enable_seq"], "1")
        self.assertNotIn("root_ops", scx)

    def test_dmesg_shows_stall_ejection(self):
        lines = self.truth["dmesg_scx"]
        self.assertTrue(any('BPF scheduler "lab_stall" enabled' in ln for ln in lines), lines)
        self.assertTrue(any('BPF scheduler "lab_stall" disabled (runnable task stall)' in ln for ln in lines),
                        lines)
        self.assertTrue(any("lab_stall[" in ln and "failed to run for" in ln for ln in lines), lines)

    def test_exit_record_is_error_class(self):
        bss = datasec(self.truth, ".bss")
        rec = bss["lab_exit_rec"]
        self.assertEqual(rec["seen"], 1)
        self.assertGreaterEqual(rec["kind"], SCX_EXIT_ERROR)
        self.assertEqual(rec["kind"], SCX_EXIT_ERROR_STALL)
        self.assertEqual(rec["reason"], "runnable task stall")
        self.assertEqual(bss["lab_stalling"], 1)
        self.assertGreater(bss["lab_nr_moved"], 0, "the victim ran before the stall")

    def test_guest_keeps_working_after_ejection(self):
        res = labclient.exec(NAME, "pidof lab_stall lab_spin lab_sleeper | wc -w", check=True)
        self.assertEqual(res.stdout.strip(), "3")


if __name__ == "__main__":
    main()
