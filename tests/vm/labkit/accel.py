"""Choose between KVM and TCG.

On the project's machines /dev/kvm is kvm_pvm, a software nested hypervisor whose instruction
emulator cannot run Debian's 7.x kernel (BMI2 in the decompressor, cmpxchg16b, xrstor), so it is
ruled out up front. Elsewhere KVM is tried first and a boot that does not reach init in time falls
back to TCG (see guests.py). An arm64 guest on this x86-64 host always runs under TCG.
"""

import os
from pathlib import Path

from .proc import LabError

PVM_MODULE = Path("/sys/module/kvm_pvm")


def kvm_unusable_reason():
    """None when KVM looks usable, else a short reason why it is not."""
    if PVM_MODULE.exists():
        return "kvm_pvm loaded (/dev/kvm is the software nested hypervisor; its emulator fails on this kernel)"
    if not os.path.exists("/dev/kvm"):
        return "no /dev/kvm"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm not accessible"
    return None


def plan(requested: str, native: bool = True) -> tuple:
    """(list of accelerators to try in order, note explaining the choice). native: whether the
    guest's architecture is the host's (else only TCG can run it)."""
    requested = requested or os.environ.get("KFREEZE_VM_ACCEL", "auto")
    if requested not in ("auto", "kvm", "tcg"):
        raise ValueError(f"accelerator must be auto, kvm or tcg, not {requested!r}")
    if not native:
        if requested == "kvm":
            raise LabError("kvm cannot run a guest of another architecture than the host's: use tcg")
        return ["tcg"], "guest architecture differs from the host's: tcg only"
    if requested == "tcg":
        return ["tcg"], "tcg requested"
    reason = kvm_unusable_reason()
    if requested == "kvm":
        return ["kvm"], "kvm requested" + (f" although {reason}" if reason else "")
    if reason:
        return ["tcg"], reason
    return ["kvm", "tcg"], "kvm available; tcg if the kvm boot does not reach init"


def qemu_args(accel: str, tcg_threads: str, cpu_props: tuple = ()) -> list:
    """cpu_props: extra -cpu properties (e.g. la57=off), appended to the model."""
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", ",".join(("host", *cpu_props))]
    return ["-accel", f"tcg,thread={tcg_threads}", "-cpu", ",".join(("max", *cpu_props))]
