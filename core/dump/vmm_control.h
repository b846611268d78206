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

// An arm64 vCPU's state as `info registers` shows it (AArch64 state): what a frame-pointer
// unwinder needs (x29, x30, sp, pc) and PSTATE for the exception level.
struct Arm64RegisterFile {
  uint64_t x[31] = {};  // x0..x30; x29 is the frame pointer, x30 the link register
  uint64_t sp = 0;      // the SP of the current EL and SPSel (EL1h: SP_EL1; EL0t, EL1t: SP_EL0)
  uint64_t pc = 0;
  uint64_t pstate = 0;
  uint8_t el = 0;       // PSTATE[3:2]
  bool sp_sel = false;  // PSTATE[0]: 'h' (SP_ELx) rather than 't' (SP_EL0)
};

// What `info registers -a` gives per vCPU that the report keeps. The generic fields are what
// code that does not care about the architecture reads; the register files are per architecture.
struct VcpuRegisters {
  uint32_t cpu_index = 0;  // QEMU's CPU#N
  uint64_t pc = 0;         // x86: RIP
  uint64_t sp = 0;         // x86: RSP
  // x86: raw CR3, PCID bits included. Absent on arm64: HMP shows no TTBR.
  std::optional<uint64_t> page_table_root;
  // The vCPU ran kernel code (x86: CS & 3 == 0; arm64: EL != 0). False in user mode, and also when
  // the VMM gave no register file to tell by.
  bool kernel_mode = false;
  // Absent when the VMM reported only the basics (a 32-bit guest, a terse control). At most one of
  // them is set.
  std::optional<X86RegisterFile> x86;
  std::optional<Arm64RegisterFile> arm64;
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
