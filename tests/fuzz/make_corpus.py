#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz (corpus/<target>/): a few small, valid-looking inputs
per target, taken from the unit tests' fixtures so the fuzzers start past the first checks.
Rerun after changing an input format; the output is committed (a few KB per target)."""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def c_string(path, name):
    """The value of `constexpr char name[] = "..." "...";` or R"(...)" in a test file."""
    text = open(os.path.join(ROOT, path)).read()
    m = re.search(r'constexpr char %s\[\] =\s*R"\((.*?)\)";' % name, text, re.S)
    if m:
        return m.group(1).encode()
    m = re.search(r'constexpr char %s\[\] =\s*((?:\s*"(?:[^"\\]|\\.)*")+);' % name, text, re.S)
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1))
    return "".join(parts).encode().decode("unicode_escape").encode("latin-1")


def patch(region, offset, data):
    return struct.pack("<BIB", region, offset, len(data)) + data


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    seeds = {}
    vmcoreinfo = c_string("tests/core/kernel/vmcoreinfo_test.cc", "kText")
    seeds["vmcoreinfo_fuzz"] = [vmcoreinfo, b"OSRELEASE=6.12.0\nPAGESIZE=4096\n"]
    hmp = os.path.join(ROOT, "tests/server/testdata/hmp_registers")
    seeds["hmp_registers_fuzz"] = [c_string("tests/server/hmp_registers_test.cc", "kTwoCpus")] + [
        open(os.path.join(hmp, name), "rb").read() for name in sorted(os.listdir(hmp))]
    mtree = c_string("tests/core/mem/ram_layout_test.cc", "kQ35Mtree")
    seeds["ram_layout_fuzz"] = [b"\x00" + mtree, b"\x01q35", b"\x01" + b"0x0-0x9ffff@0,0x100000-0x3fffffff@0x100000"]
    seeds["config_fuzz"] = [open(os.path.join(ROOT, "deploy/kfreezed.example.json"), "rb").read(),
                            b"name=vm0,ram=/dev/shm/vm0.ram,qmp=/run/vm0.qmp"]
    greeting = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 8}}, "capabilities": []}}\r\n'
    ok = b'{"return": {}, "id": %d}\r\n'
    seeds["qmp_messages_fuzz"] = [
        greeting + ok % 1 + b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\r\n' + ok % 2
        + b'{"return": "CPU#0\\nRIP=ffffffff81000000\\n", "id": 3}\r\n'
        + b'{"return": {"status": "paused", "running": false}, "id": 4}\r\n' + ok % 5,
        greeting + b'{"error": {"class": "GenericError", "desc": "nope"}, "id": 1}\r\n',
    ]
    # Archive: {u16 index length; index; dump file}; an empty index and an empty dump, and a
    # field-1 length-delimited entry holding a field-1 string "t-1" (a DumpSummary-like row).
    row = b"\x0a\x03t-1"
    seeds["archive_fuzz"] = [b"\x00\x00", struct.pack("<H", len(row) + 2) + b"\x0a" + bytes([len(row)]) + row + b"\x0a\x03t-1"]
    # Patch lists: region, offset, bytes (guest_patches.h). Region numbers follow the fuzzers'
    # region order; offsets are taken modulo the region size.
    seeds["kallsyms_fuzz"] = [b"", patch(0, 0, b"OSRELEASE=x\n"), patch(1, 0, b"\xff" * 8),
                              patch(2, 16, b"\x00" * 16), patch(6, 0, b"\xff\xff\xff\x7f")]
    seeds["guest_memory_fuzz"] = [
        b"",
        patch(0, 0, b"OSRELEASE=7.2.0\nPAGESIZE=65536\n"),
        patch(1, 0, b"\x00" * 8),
        patch(8, 0x100, b"\xff" * 8) + patch(8, 0x200, b"\x00" * 8),
        patch(9, 0x40, b"\x02\x10\x00\x00\x80\x88\xff\xff"),
        patch(10, 0x10, b"\x00" * 16) + patch(10, 0x48, b"\x01\x00\x00\x00\x00\x00\x00\x00"),
        patch(11, 0x2000, b"\xff\xff\xff\xff"),
        patch(12, 0x3000, b"\x02\x00\x00\x00"),
    ]
    for target, inputs in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for i, data in enumerate(inputs):
            with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
