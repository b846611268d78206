// Parser for QEMU's HMP `info registers -a` text (x86-64): RIP, RSP and CR3 of each vCPU, and
// the full register file (general-purpose registers, flags, selectors, bases, control registers).
#pragma once

#include <cstddef>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/dump/vmm_control.h"

namespace kfreeze::dump {

// QEMU supports at most 1024 vCPUs per x86 machine (q35 with x2APIC: 1024 in QEMU 7.2); 4096
// leaves room and bounds the result for hostile text.
inline constexpr size_t kMaxHmpVcpus = 4096;
// `info registers` is about 1.3 KiB per vCPU; anything beyond this is not register output.
inline constexpr size_t kMaxHmpRegisterText = 16 * 1024 * 1024;

// Blocks start at "CPU#N"; text without any header is one block for vCPU 0 (plain
// `info registers`). Every block must carry RIP=, RSP= and CR3= (InvalidArgument otherwise);
// 32-bit guests' EIP=/ESP= are accepted when RIP/RSP are absent. VcpuRegisters.x86 is set when
// every 64-bit general-purpose register and RFL are present.
absl::StatusOr<std::vector<VcpuRegisters>> ParseHmpRegisters(absl::string_view text);

}  // namespace kfreeze::dump
