"""Choose between KVM and TCG.

On the project's machines /dev/kvm is kvm_pvm, a software nested hypervisor whose instruction
emulator cannot run Debian's 7.x kernel (BMI2 in the decompressor, cmpxchg16b, xrstor), so it is
ruled out up front. Elsewhere KVM is tried first and a boot that does not reach init in time falls
back to TCG (see guests.py).
"""

import os
from pathlib import Path

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


def plan(requested: str) -> tuple:
    """(list of accelerators to try in order, note explaining the choice)."""
    requested = requested or os.environ.get("KFREEZE_VM_ACCEL", "auto")
    if requested not in ("auto", "kvm", "tcg"):
        raise ValueError(f"accelerator must be auto, kvm or tcg, not {requested!r}")
    if requested == "tcg":
        return ["tcg"], "tcg requested"
    reason = kvm_unusable_reason()
    if requested == "kvm":
        return ["kvm"], "kvm requested" + (f" although {reason}" if reason else "")
    if reason:
        return ["tcg"], reason
    return ["kvm", "tcg"], "kvm available; tcg if the kvm boot does not reach init"


def qemu_args(accel: str, tcg_threads: str) -> list:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", f"tcg,thread={tcg_threads}", "-cpu", "max"]
