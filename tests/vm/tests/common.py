"""Shared helpers for the vm tests (ctest label `vm`)."""

import os
import sys
import time
import unittest
from pathlib import Path

VM_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(VM_DIR))

import labclient  # noqa: E402

# All vm-test guests carry this prefix, so they never collide with e2e guests in the same cache.
PREFIX = "vmtest-"
EXPECTED_TRUTH_KEYS = ["release", "nr_cpus", "kallsyms", "maps", "map_dumps", "progs", "sched_ext",
                       "tasks", "proc_stat_cpu", "pressure", "dmesg_scx"]


def boot(name: str, scenario, **up_kw) -> dict:
    """`lab up` after taking down a stale guest of the same name; prints how the boot went."""
    labclient.down(name)
    info = labclient.up(name, scenario, **up_kw)
    print_boot(name, info)
    return info


def print_boot(name: str, info: dict) -> None:
    print(f"\nboot {name}: {info['BOOT_SECONDS']}s retries={info['RETRIES']} accel={info['ACCEL']}", flush=True)


def bpftool_bytes(byte_strings) -> bytes:
    """bpftool's ["0x2a", "0x00", ...] as bytes."""
    return bytes(int(b, 16) for b in byte_strings)


def le_int(byte_strings, signed=False) -> int:
    """bpftool's ["0x2a", "0x00", ...] (little endian) as an int."""
    return int.from_bytes(bpftool_bytes(byte_strings), "little", signed=signed)


def maps_by_name(truth: dict) -> dict:
    return {m["name"]: m for m in truth["maps"]}


def dump_of(truth: dict, name: str):
    m = maps_by_name(truth).get(name)
    if m is None:
        raise AssertionError(f"no map named {name!r} in truth (maps: {sorted(maps_by_name(truth))})")
    return truth["map_dumps"][str(m["id"])]


def datasec(truth: dict, suffix: str) -> dict:
    """The formatted variables of the global-data map whose name ends with suffix (e.g. '.bss')."""
    hits = [m for m in truth["maps"] if m["name"].endswith(suffix)]
    if len(hits) != 1:
        raise AssertionError(f"expected one map named *{suffix}, got {[m['name'] for m in hits]}")
    dump = truth["map_dumps"][str(hits[0]["id"])]
    section = dump[0]["formatted"]["value"]
    (variables,) = section.values()
    out = {}
    for var in variables:
        out.update(var)
    return out


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def assert_guest_gone(test: unittest.TestCase, info: dict) -> None:
    """`lab down` must leave no QEMU process, socket or RAM file behind."""
    pid = int(info["PID"])
    test.assertFalse(Path(f"/proc/{pid}").exists() and info["RAM"].encode() in
                     Path(f"/proc/{pid}/cmdline").read_bytes(), f"QEMU pid {pid} still running")
    for key in ("RAM", "QMP", "CMD"):
        test.assertFalse(os.path.exists(info[key]), f"{key} {info[key]} left behind")


def main():
    unittest.main(verbosity=2)
