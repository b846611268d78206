"""Finds the kernel's VMCOREINFO note in a guest RAM file, the way kfreeze does: the note starts
on a page boundary with an ELF note header (namesz 11, descsz, type 0) and the name "VMCOREINFO\\0",
followed by KEY=value text lines."""

import mmap
import struct
from pathlib import Path

PAGE = 4096
NOTE_NAME = b"VMCOREINFO\0"
# namesz=11 and type=0 around a descsz we do not know yet.
HEADER_FMT = "<III"
HEADER_SIZE = 12
NAME_PADDED = 12  # 11 bytes rounded up to 4
MAX_DESC = 1 << 16


def find(ram: Path) -> dict:
    """Returns {'offset': page offset, 'fields': {KEY: value}}; raises if there is no note."""
    with open(ram, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mem:
        pos = 0
        while True:
            pos = mem.find(NOTE_NAME, pos)
            if pos < 0:
                raise AssertionError(f"no VMCOREINFO note in {ram}")
            start = pos - HEADER_SIZE
            if start >= 0 and start % PAGE == 0:
                namesz, descsz, ntype = struct.unpack_from(HEADER_FMT, mem, start)
                if namesz == len(NOTE_NAME) and ntype == 0 and 0 < descsz < MAX_DESC:
                    desc_off = start + HEADER_SIZE + NAME_PADDED
                    text = mem[desc_off:desc_off + descsz].decode(errors="replace")
                    fields = {}
                    for line in text.split("\n"):
                        key, sep, value = line.partition("=")
                        if sep:
                            fields[key] = value
                    return {"offset": start, "fields": fields}
            pos += 1


START_KERNEL_MAP = 0xFFFFFFFF80000000
# Kernel image and direct-map bases without KASLR (the direct map depends on 5- vs 4-level paging).
DEFAULT_TEXT = 0xFFFFFFFF81000000
DEFAULT_PAGE_OFFSET = {"1": 0xFF11000000000000, "0": 0xFFFF888000000000}
# arm64 (QEMU virt): RAM file offset 0 is guest-physical 1 GiB.
ARM64_RAM_GPA = 0x40000000


def is_arm64(fields: dict) -> bool:
    """arm64 VMCOREINFO has NUMBER(kimage_voffset) (x86-64 has NUMBER(phys_base) instead)."""
    return "NUMBER(kimage_voffset)" in fields


def default_text(fields: dict) -> int:
    """_text without KASLR: x86-64 __START_KERNEL_map + 16 MiB; arm64 KIMAGE_VADDR, which is
    MODULES_END (arch/arm64/include/asm/memory.h), a VMCOREINFO number."""
    if is_arm64(fields):
        return int(fields.get("NUMBER(MODULES_END)", "0xffff800080000000"), 0)
    return DEFAULT_TEXT


def linear_map_symbol(fields: dict) -> str:
    """The kernel variable KASLR randomizes the linear map through: x86-64 page_offset_base (the
    direct map's VA), arm64 memstart_addr (PHYS_OFFSET, what linear VA 0 maps)."""
    return "memstart_addr" if is_arm64(fields) else "page_offset_base"


def default_linear_map(fields: dict) -> int:
    """That variable without KASLR. arm64: the RAM base, moved down by 2^VA_BITS - 2^(64-T1SZ)
    when a 52-bit kernel runs with 48-bit VAs (arm64_memblock_init), modulo 2^64."""
    if is_arm64(fields):
        va_bits = int(fields["NUMBER(VA_BITS)"], 0)
        walk_bits = 64 - int(fields["NUMBER(TCR_EL1_T1SZ)"], 0)
        return (ARM64_RAM_GPA - (1 << va_bits) + (1 << walk_bits)) % (1 << 64)
    return DEFAULT_PAGE_OFFSET[fields["NUMBER(pgtable_l5_enabled)"]]


def read_u64(ram: Path, offset: int) -> int:
    with open(ram, "rb") as f, mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ) as mem:
        return struct.unpack_from("<Q", mem, offset)[0]


def read_kernel_u64(ram: Path, fields: dict, va: int) -> int:
    """A u64 of the kernel image at virtual address va (KASLR slide included), read from RAM:
    x86-64 pa = va - __START_KERNEL_map + phys_base; arm64 pa = va - kimage_voffset."""
    if is_arm64(fields):
        return read_u64(ram, va - int(fields["NUMBER(kimage_voffset)"], 0) - ARM64_RAM_GPA)
    return read_u64(ram, va - START_KERNEL_MAP + int(fields["NUMBER(phys_base)"]))
