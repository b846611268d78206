// The VMM control channel a freeze needs: run state, pause, resume, read vCPU registers, and the
// host threads that run the vCPUs.
// QmpControl (qmp_control.h) implements it over QMP; tests substitute their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kfreeze::dump {

// The rest of an x86-64 vCPU's state, as `info registers` shows it: what a stack unwinder needs
// (rbp, the registers ORC may name, cs for the privilege level) and what a reader checks.
struct X86RegisterFile {
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0;
  uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  uint64_t rflags = 0;
  uint16_t cs = 0, ss = 0;  // selectors
  uint64_t fs_base = 0, gs_base = 0;
  uint64_t cr0 = 0, cr2 = 0, cr4 = 0, efer = 0;
};

// What `info registers -a` gives per vCPU that the report keeps.
struct VcpuRegisters {
  uint32_t cpu_index = 0;  // QEMU's CPU#N
  uint64_t rip = 0;
  uint64_t rsp = 0;
  uint64_t cr3 = 0;  // raw CR3, PCID bits included
  // Absent when the VMM reported only the three above (a 32-bit guest, a terse control).
  std::optional<X86RegisterFile> x86;
};

// QMP `query-status`: only a running VM is kfreeze's to pause. Any other QEMU RunState (paused,
// suspended, io-error, inmigrate, postmigrate, guest-panicked, ...) belongs to someone else.
struct VmmRunState {
  bool running = false;
  std::string status;  // QEMU's RunState name
};

// The host thread that runs one vCPU (QMP `query-cpus-fast`).
struct VcpuThread {
  uint32_t cpu_index = 0;  // QEMU's CPU#N
  int64_t thread_id = 0;   // host TID
};

class VmmControl {
 public:
  virtual ~VmmControl() = default;
  // QMP `query-status`.
  virtual absl::StatusOr<VmmRunState> QueryRunState(std::chrono::milliseconds timeout) = 0;
  // QMP `stop`: returns once the VMM acknowledged that every vCPU is paused.
  virtual absl::Status Stop(std::chrono::milliseconds timeout) = 0;
  // `stop`, with the register read asked for behind it in the same breath: the VMM answers it as
  // soon as the stop is done, so the ReadRegisters that follows finds its reply on the way (one
  // client round trip fewer inside the window). Controls that cannot queue a request just stop.
  virtual absl::Status StopAskingRegisters(std::chrono::milliseconds timeout) {
    return Stop(timeout);
  }
  // QMP `cont`.
  virtual absl::Status Cont(std::chrono::milliseconds timeout) = 0;
  // Registers of every vCPU, in vCPU order.
  virtual absl::StatusOr<std::vector<VcpuRegisters>> ReadRegisters(
      std::chrono::milliseconds timeout) = 0;
  // Every vCPU's host thread, in vCPU order. Controls that cannot tell return Unimplemented.
  virtual absl::StatusOr<std::vector<VcpuThread>> QueryVcpuThreads(
      std::chrono::milliseconds /*timeout*/) {
    return absl::UnimplementedError("this VMM control cannot list vCPU threads");
  }
};

}  // namespace kfreeze::dump
