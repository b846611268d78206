#!/usr/bin/python3
"""The `scale` scenario with small parameters (`lab up --param`): its hash maps have the asked
count, type, BTF value struct, max_entries and exactly `entries` entries with the documented
values (word j of entry i of map m = m<<48 | i<<8 | j), its lab_scale_idle tasks exist, and the
lab rejects bad --param syntax on the host and the scenario an unknown key."""

import json
import os
import subprocess
import unittest

from common import PREFIX, boot, labclient, main

# KFREEZE_VM_TEST_PREFIX: another guest name prefix, for a run beside a ctest run in one cache dir.
NAME = os.environ.get("KFREEZE_VM_TEST_PREFIX", PREFIX) + "scale"
BAD_NAME = NAME + "-bad"
PARAMS = {"entries": 1000, "value_size": 16, "maps": 2, "tasks": 100}
FIELDS16 = ("id", "a")


def word(m, i, j):
    return m << 48 | i << 8 | j


class ScaleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.info = boot(NAME, "scale", params=PARAMS)

    @classmethod
    def tearDownClass(cls):
        labclient.down(NAME)

    def test_params_reach_the_guest(self):
        env = labclient.exec(NAME, "cat /lab/params.env", check=True).stdout
        for key, value in PARAMS.items():
            self.assertIn(f"export LAB_PARAM_{key.upper()}={value}\n", env)
        console = self.info["CONSOLE"]
        with open(console, errors="replace") as f:
            self.assertIn("KFREEZE-SCALE entries=1000 value_size=16 maps=2 tasks=100", f.read())

    def test_maps(self):
        shown = json.loads(labclient.exec(NAME, "bpftool -j map show", check=True).stdout)
        scale = {m["name"]: m for m in shown if m["name"].startswith("scale_")}
        self.assertEqual(sorted(scale), ["scale_h16_0", "scale_h16_1"])
        for m in scale.values():
            self.assertEqual((m["type"], m["bytes_key"], m["bytes_value"], m["max_entries"]),
                             ("hash", 4, 16, 1000))
            self.assertIn("btf_id", m)
        for idx in (0, 1):
            dump = json.loads(labclient.exec(
                NAME, f"bpftool -j map dump pinned /sys/fs/bpf/lab/scale_h16_{idx}", check=True).stdout)
            self.assertEqual(len(dump), 1000)
            seen = set()
            for entry in dump:
                key = entry["formatted"]["key"]
                value = entry["formatted"]["value"]
                self.assertEqual(list(value), list(FIELDS16))
                self.assertEqual([value[f] for f in FIELDS16], [word(idx, key, j) for j in range(2)])
                seen.add(key)
            self.assertEqual(seen, set(range(1000)))

    def test_tasks(self):
        res = labclient.exec(NAME, "grep -l '^Name:.lab_scale_idle' /proc/[0-9]*/status | wc -l", check=True)
        self.assertEqual(int(res.stdout.strip()), 100)
        states = labclient.exec(NAME, "grep -h '^State' $(grep -l '^Name:.lab_scale_idle' "
                                "/proc/[0-9]*/status) | sort | uniq -c", check=True).stdout
        self.assertIn("S (sleeping)", states)
        self.assertNotIn("R (running)", states)

    def test_bad_param_syntax_is_rejected_on_the_host(self):
        res = subprocess.run([str(labclient.LAB), "up", BAD_NAME, "--scenario", "scale", "--param",
                              "no-equals-sign"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(res.returncode, 255)
        self.assertIn(b"--param", res.stderr)

    def test_unknown_param_fails_the_scenario(self):
        labclient.down(BAD_NAME)
        try:
            with self.assertRaises(labclient.LabFailure) as ctx:
                labclient.up(BAD_NAME, "scale", params={"entries": 10, "tasks": 0, "bogus": 1})
            self.assertIn("unknown parameter BOGUS", str(ctx.exception))
        finally:
            labclient.down(BAD_NAME)


if __name__ == "__main__":
    main()
