"""Guest architectures: what differs between an x86-64 and an arm64 lab guest.

The architecture comes from KFREEZE_VM_ARCH (`lab --arch` sets it, like --kernel sets
KFREEZE_VM_KERNEL), default x86_64. Everything arch-specific hangs off one Arch record, so the
x86-64 paths, names and QEMU line stay exactly what they were before arm64 existed.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from .proc import LabError

ENV = "KFREEZE_VM_ARCH"


@dataclass(frozen=True)
class Arch:
    name: str           # the lab's name, printed as ARCH=
    deb: str            # Debian architecture
    multiarch: str      # Debian multiarch triplet (library dirs)
    store_subdir: str   # kernel-store subdir ('' = the store root, where x86-64 always lived)
    qemu: str
    console: str        # kernel console= (the console log)
    cmd_tty: str        # guest tty of the command channel
    bpf_target: str     # bpf_tracing.h's __TARGET_ARCH_<x>
    elf_target: str     # objcopy's BFD name for this architecture's ELF
    ram_gpa: int        # guest-physical address of RAM file offset 0
    native: bool        # userland (busybox, bpftool, gcc) straight from the host

    @property
    def flavour(self) -> str:
        return f"cloud-{self.deb}"

    @property
    def cross_prefix(self) -> str:
        return "" if self.native else f"{self.multiarch}-"

    @property
    def lab_option(self) -> str:
        """What to add to a `tests/vm/lab` command line in messages (nothing for x86-64)."""
        return "" if self == X86_64 else f" --arch {self.name}"


X86_64 = Arch(name="x86_64", deb="amd64", multiarch="x86_64-linux-gnu", store_subdir="",
              qemu="qemu-system-x86_64", console="ttyS0", cmd_tty="ttyS1", bpf_target="x86",
              elf_target="elf64-x86-64",
              ram_gpa=0, native=True)
# qemu virt: RAM starts at 1 GiB; one PL011 (ttyAMA0); the command channel is a virtserialport.
ARM64 = Arch(name="arm64", deb="arm64", multiarch="aarch64-linux-gnu", store_subdir="arm64",
             qemu="qemu-system-aarch64", console="ttyAMA0", cmd_tty="vport*p* (org.kfreeze.cmd)", bpf_target="arm64",
             elf_target="elf64-littleaarch64",
             ram_gpa=0x40000000, native=False)
ARCHES = {a.name: a for a in (X86_64, ARM64)}
# Other spellings people type (Debian's, the kernel's, uname -m's).
ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64"}


def by_name(name: str) -> Arch:
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ARCHES:
        raise LabError(f"unknown guest architecture {name!r}: use one of {', '.join(ARCHES)}")
    return ARCHES[key]


def current() -> Arch:
    """The architecture this lab invocation works on (KFREEZE_VM_ARCH, default x86_64)."""
    return by_name(os.environ.get(ENV, "").strip() or X86_64.name)


def store(base: Path) -> Path:
    """The current architecture's part of the kernel store."""
    sub = current().store_subdir
    return base / sub if sub else base
