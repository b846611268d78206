// The "stacks" dump phase: TaskEnrichment.kernel_stack for every task the tasks phase recorded.
//
// Run (VM paused): copies each task's live stack bytes and the kernel's BPF symbol list (programs
// come and go). Decode (after the resume): the code map — ORC tables of vmlinux and modules,
// module symbols — is read from guest memory (it is static text/rodata, cached per attachment and
// re-read only when the module list changes), then each stack is unwound and symbolized.
// A sleeping task starts at the frame its switch saved (x86 thread.sp, arm64 thread.cpu_context);
// a running one at the vCPU whose SP lies on its stack (or, in an interrupt, the vCPU of its CPU),
// with that vCPU's copied IRQ stack. x86-64 unwinds by ORC, arm64 by frame records.
#pragma once

#include <functional>
#include <memory>

#include "core/btf/offset_resolver.h"
#include "core/dump/dump_phase.h"
#include "core/kernel/symbols.h"
#include "core/mem/reader.h"

namespace kfreeze::walkers::stacks {

// What the phase reads the guest through; its referents outlive the phase (`owner`).
struct StacksSource {
  const OffsetResolver* btf = nullptr;
  const SymbolIndex* symbols = nullptr;
  uint64_t pac_mask = 0;  // arm64 NUMBER(KERNELPACMASK): stripped from saved return addresses
  std::function<Reader()> new_reader;
  std::shared_ptr<const void> owner;
};

std::shared_ptr<dump::DumpPhase> MakeStacksPhase(StacksSource source);

}  // namespace kfreeze::walkers::stacks
