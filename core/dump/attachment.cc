#include "core/dump/attachment.h"

#include <utility>

namespace kfreeze::dump {

void UseAttachment(std::shared_ptr<const KernelAttachment> kernel, FreezeOptions& options) {
  options.symbolize_ip = [kernel](uint64_t ip) { return kernel->SymbolizeIp(ip); };
  options.copy_vcpu_memory = [kernel = std::move(kernel)](const std::vector<VcpuRegisters>& regs) {
    return kernel->CopyVcpuMemory(regs);
  };
}

}  // namespace kfreeze::dump
