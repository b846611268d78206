#!/usr/bin/python3
"""vm fixture: `lab fetch` must produce the guest kernel and everything built from it.

Fails (never skips) when the kernel cannot be fetched, e.g. without network access to a Debian
mirror; the message says so. KFREEZE_VM_ARCH=arm64 checks the arm64 fetch (a cloud-arm64 kernel,
its BTF wrapped as an ELF, the same BPF objects)."""

import os
import unittest
from pathlib import Path

from common import labclient, main


# The lab's architecture (KFREEZE_VM_ARCH) -> Debian's name in the kernel release.
DEB_ARCH = {"": "amd64", "x86_64": "amd64", "amd64": "amd64", "arm64": "arm64", "aarch64": "arm64"}


class FetchTest(unittest.TestCase):
    def test_fetch_produces_kernel_bpf_and_initramfs(self):
        try:
            info = labclient.fetch()
        except labclient.LabFailure as e:
            self.fail(f"cannot fetch/build the guest kernel; the vm tests need network access to a "
                      f"Debian mirror (or a filled KFREEZE_VM_CACHE):\n{e}")
        deb = DEB_ARCH[os.environ.get("KFREEZE_VM_ARCH", "").strip().lower()]
        self.assertRegex(info["KERNEL"], rf"^7\.\d+\.\d+\+deb\d+-cloud-{deb}$")
        for key in ("VMLINUZ", "VMLINUX", "VMLINUX_H", "INITRAMFS"):
            self.assertTrue(Path(info[key]).is_file(), f"{key}={info[key]} missing")
        self.assertEqual(Path(info["VMLINUX"]).read_bytes()[:4], b"\x7fELF")
        self.assertIn("struct sched_ext_ops {", Path(info["VMLINUX_H"]).read_text())
        objs = sorted(p.name for p in Path(info["BPF_DIR"]).glob("*.bpf.o"))
        self.assertEqual(objs, ["lab_typed.bpf.o", "scale.bpf.o", "scx_error.bpf.o",
                                "scx_running.bpf.o", "scx_stall.bpf.o", "sdt_alloc.bpf.o"])


if __name__ == "__main__":
    main()
