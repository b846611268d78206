// One vCPU's block of QEMU's HMP `info registers` text on an arm64 guest (target/arm/cpu.c
// arm_cpu_dump_state): the AArch64 layout, and the AArch32 one QEMU prints for a vCPU that runs a
// 32-bit (compat) task at EL0. ParseHmpRegisters (hmp_registers.h) splits the blocks and picks
// the parser.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::dump {

// True when `block` carries an Arm register dump: a "PC=" or "PSTATE=" token (AArch64) or a "PSR="
// token (AArch32).
bool IsArmRegisterBlock(absl::string_view block);

// AArch64: PC=, SP= and PSTATE= are required (InvalidArgument naming the vCPU and the register
// otherwise); VcpuRegisters.arm64 is set when X00..X30 are all present. PSTATE may have 8 or 16
// hex digits, and whatever follows it on its line (flags, EL name, SVCR, BTYPE, NV, FP/SVE lines)
// is ignored. AArch32: R13, R15 and PSR are required; no register file (x15..x30 are not shown).
// The page-table root stays absent: QEMU prints no TTBR.
absl::StatusOr<VcpuRegisters> ParseArmRegisterBlock(uint32_t cpu_index, absl::string_view block);

}  // namespace kfreeze::dump
