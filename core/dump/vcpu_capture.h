// What a freeze learned from the vCPUs, handed to the phases' Decode step (ctx.outputs()): their
// registers, and the guest memory only those registers locate (the stack above each vCPU's SP),
// copied on the register thread while the VM was still paused.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/dump/vmm_control.h"

namespace kfreeze::dump {

// Guest bytes starting at a kernel virtual address.
struct GuestCopy {
  uint32_t cpu_index = 0;  // the vCPU whose registers located it
  uint64_t kva = 0;
  std::vector<uint8_t> bytes;
};

struct VcpuCapture {
  std::vector<VcpuRegisters> registers;
  std::vector<GuestCopy> memory;
};

// Copies what the registers locate; bound by the attachment (it knows how to read the guest).
using VcpuMemoryCopier = std::function<std::vector<GuestCopy>(const std::vector<VcpuRegisters>&)>;

}  // namespace kfreeze::dump
