// Parser for QEMU's HMP `info registers -a` text: splits it into per-vCPU blocks and reads each as
// x86-64 (RIP, RSP, CR3 and the full register file: general-purpose registers, flags, selectors,
// bases, control registers) or as arm64 (hmp_registers_arm64.h), by what the block names.
#pragma once

#include <cstddef>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::dump {

// QEMU supports at most 1024 vCPUs per x86 machine (q35 with x2APIC: 1024 in QEMU 7.2) and 512
// on arm64 virt (GICv3); 4096 leaves room and bounds the result for hostile text.
inline constexpr size_t kMaxHmpVcpus = 4096;
// `info registers` is about 1.3 KiB per vCPU on x86, 2 KiB on arm64 (4 KiB with SVE and SME);
// anything beyond this is not register output.
inline constexpr size_t kMaxHmpRegisterText = 16 * 1024 * 1024;

// Blocks start at "CPU#N"; text without any header is one block for vCPU 0 (plain
// `info registers`). A block that names RIP/EIP, or no Arm register, is x86: it must carry RIP=,
// RSP= and CR3= (InvalidArgument otherwise); 32-bit guests' EIP=/ESP= are accepted when RIP/RSP
// are absent. VcpuRegisters.x86 is set when every 64-bit general-purpose register and RFL are
// present. Other blocks are Arm (ParseArmRegisterBlock). Text mixing x86 and Arm blocks is refused.
absl::StatusOr<std::vector<VcpuRegisters>> ParseHmpRegisters(absl::string_view text);

}  // namespace kfreeze::dump
