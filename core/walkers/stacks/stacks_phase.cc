#include "core/walkers/stacks/stacks_phase.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/dump/vcpu_capture.h"
#include "core/kernel/bpf_ksyms.h"
#include "core/kernel/code_symbolizer.h"
#include "core/unwind/fp_unwinder.h"
#include "core/unwind/stack_memory.h"
#include "core/unwind/unwinder.h"
#include "core/walkers/stacks/code_map.h"
#include "core/walkers/stacks/stack_copy.h"
#include "core/walkers/stacks/stack_layout.h"
#include "core/walkers/tasks/task_stack_refs.h"

namespace kfreeze::walkers::stacks {
namespace {

using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::TaskEnrichment;

// What Run hands Decode.
struct StackCapture {
  TaskStackCopies copies;
  std::shared_ptr<const BpfKsyms> bpf;  // null when the list was unreadable
  std::string bpf_unavailable;
};

std::string Hex(uint64_t v) { return absl::StrCat("0x", absl::Hex(v)); }

const char* ViaName(FrameVia via) {
  switch (via) {
    case FrameVia::kRegs:
      return "regs";
    case FrameVia::kOrc:
      return "orc";
    case FrameVia::kFramePointer:
      return "frame_pointer";
    case FrameVia::kPtRegs:
      return "pt_regs";
  }
  return "orc";
}

// The vCPU a running task is on: the one whose SP lies on the task's stack, else (the vCPU is on
// its IRQ or exception stack) the one with the task's CPU number whose SP is on no task stack.
const dump::VcpuRegisters* VcpuOf(const TaskStackCopy& copy, uint64_t thread_size,
                                  const dump::VcpuCapture& vcpus, const TaskStackCopies& all) {
  auto on = [](uint64_t sp, uint64_t base, uint64_t size) {
    return sp >= base && sp - base < size;
  };
  for (const dump::VcpuRegisters& r : vcpus.registers) {
    if (on(r.sp, copy.task.stack_base, thread_size)) return &r;
  }
  for (const dump::VcpuRegisters& r : vcpus.registers) {
    if (r.cpu_index != copy.task.cpu) continue;
    for (const TaskStackCopy& other : all.tasks) {
      if (on(r.sp, other.task.stack_base, thread_size)) return nullptr;
    }
    return &r;
  }
  return nullptr;
}

// A running x86-64 task from its vCPU's full register set (the ORC entry rules need more than
// ip/sp/bp).
UnwindResult UnwindX86(const OrcTables& orc, const StackMemory& memory,
                       const dump::VcpuRegisters& vcpu, const IsGeneratedCode& is_generated,
                       const UnwindLimits& limits) {
  UnwindRegisters start;
  start.ip = vcpu.pc;
  start.sp = vcpu.sp;
  start.bp = vcpu.x86->rbp;
  start.dx = vcpu.x86->rdx;
  start.di = vcpu.x86->rdi;
  start.r10 = vcpu.x86->r10;
  start.r13 = vcpu.x86->r13;
  start.ax = vcpu.x86->rax;
  return Unwind(orc, memory, start, is_generated, limits);
}

// The layout from BTF, with the PAC mask only VMCOREINFO knows.
StackLayout Layout(const StacksSource& source) {
  StackLayout layout = ResolveStackLayout(*source.btf, *source.symbols);
  layout.arm64_frames.pac_mask = source.pac_mask;
  return layout;
}

class StacksPhase : public dump::DumpPhase {
 public:
  explicit StacksPhase(StacksSource source)
      : source_(std::move(source)),
        layout_(Layout(source_)),
        code_(*source_.symbols, *source_.btf,
              layout_.switch_frame == SwitchFrame::kX86InactiveTaskFrame) {}

  absl::string_view name() const override { return "stacks"; }
  std::vector<std::string> needs() const override { return {"tasks"}; }
  bool decodes() const override { return true; }

  absl::Status Run(dump::PhaseContext& ctx) override {
    const tasks::TaskStackRefs* refs = ctx.outputs().Get<tasks::TaskStackRefs>();
    if (refs == nullptr) {
      return absl::FailedPreconditionError("no task list: the tasks walk produced none");
    }
    Reader reader = source_.new_reader();
    ctx.Bind(reader);
    StackCapture capture;
    capture.copies = CopyTaskStacks(reader, layout_, *refs);
    absl::StatusOr<BpfKsyms> bpf = BpfKsyms::Read(reader, *source_.symbols, *source_.btf);
    if (bpf.ok()) {
      capture.bpf = std::make_shared<const BpfKsyms>(*std::move(bpf));
    } else {
      capture.bpf_unavailable = std::string(bpf.status().message());
    }
    ctx.outputs().Put(std::move(capture));
    return absl::OkStatus();
  }

  absl::Status Decode(dump::PhaseContext& ctx, const dump::Deadline& deadline) override {
    const StackCapture* capture = ctx.outputs().Get<StackCapture>();
    if (capture == nullptr) return absl::InternalError("stacks: nothing was copied");
    FailureDumpReport& report = ctx.report();
    if (report.task_enrichments_size() == 0) {
      if (report.task_enrichments_unavailable() == kReasonSectionNotRequested) {
        return absl::FailedPreconditionError(
            "stacks are reported per task: request the tasks section as well");
      }
      return absl::FailedPreconditionError(absl::StrCat("the tasks walk recorded no tasks: ",
                                                        report.task_enrichments_unavailable()));
    }
    Reader reader = source_.new_reader();
    absl::StatusOr<std::shared_ptr<const CodeMap>> code = code_.Get(reader);
    if (!code.ok()) return code.status();
    const CodeSymbolizer symbolizer(*source_.symbols, (*code)->modules.get(), capture->bpf.get());
    const dump::VcpuCapture* vcpus = ctx.outputs().Get<dump::VcpuCapture>();

    absl::flat_hash_map<uint64_t, TaskEnrichment*> by_kva;
    for (TaskEnrichment& t : *report.mutable_task_enrichments()) {
      if (t.has_task_kva()) by_kva[t.task_kva()] = &t;
    }
    UnwindLimits limits;
    limits.expired = [&deadline] { return deadline.Expired(); };
    auto is_generated = [&symbolizer](uint64_t ip) { return symbolizer.IsGeneratedCode(ip); };
    size_t unwound = 0;
    for (const TaskStackCopy& copy : capture->copies.tasks) {
      auto it = by_kva.find(copy.task.task_kva);
      if (it == by_kva.end()) continue;
      TaskEnrichment& task = *it->second;
      if (deadline.Expired()) {
        task.set_kernel_stack_unavailable(std::string(kReasonDeadlineExceeded));
        continue;
      }
      if (!copy.unavailable.empty()) {
        task.set_kernel_stack_unavailable(copy.unavailable);
        continue;
      }
      StackMemory memory;
      memory.Add(copy.kva, copy.bytes);
      UnwindResult result;
      const uint64_t stack_end = copy.task.stack_base + layout_.thread_size;
      if (!copy.task.running && arm64()) {
        task.set_kernel_stack_origin("thread.cpu_context");
        result = UnwindSleepingArm64(
            memory, Arm64CpuContext{copy.saved_pc, copy.saved_sp, copy.saved_fp, stack_end},
            layout_.arm64_frames, limits);
      } else if (!copy.task.running) {
        task.set_kernel_stack_origin("thread.sp");
        InactiveFrameLayout frame{layout_.frame_bp, layout_.frame_ret_addr, layout_.frame_size};
        result = UnwindSleeping(*(*code)->orc, memory, copy.saved_sp, frame, is_generated, limits);
      } else {
        const dump::VcpuRegisters* vcpu =
            vcpus ? VcpuOf(copy, layout_.thread_size, *vcpus, capture->copies) : nullptr;
        if (vcpu == nullptr) {
          task.set_kernel_stack_unavailable(
              vcpus ? "running, but no vCPU's registers place it (SP on no stack of its CPU)"
                    : "running, and no vCPU registers were read");
          continue;
        }
        task.set_kernel_stack_origin(absl::StrCat("vcpu ", vcpu->cpu_index));
        if (!vcpu->x86 && !vcpu->arm64) {
          task.set_kernel_stack_unavailable(
              absl::StrCat("vCPU ", vcpu->cpu_index, ": the VMM reported no full register set"));
          continue;
        }
        if (!vcpu->kernel_mode) {
          task.set_kernel_stack_unavailable(
              absl::StrCat("running in user mode (pc ", Hex(vcpu->pc), "): no kernel frames"));
          continue;
        }
        for (const dump::GuestCopy& m : vcpus->memory) {
          if (m.cpu_index == vcpu->cpu_index) memory.Add(m.kva, m.bytes);
        }
        if (vcpu->arm64.has_value() != arm64()) {
          task.set_kernel_stack_unavailable(absl::StrCat(
              "vCPU ", vcpu->cpu_index, "'s registers are not of the kernel's architecture"));
          continue;
        }
        result = arm64() ? UnwindArm64(memory,
                                       Arm64StartRegs{vcpu->pc, vcpu->sp, vcpu->arm64->x[29],
                                                      /*user_mode=*/false, stack_end},
                                       layout_.arm64_frames, limits)
                         : UnwindX86(*(*code)->orc, memory, *vcpu, is_generated, limits);
      }
      for (size_t i = 0; i < result.frames.size(); ++i) {
        const UnwindFrame& f = result.frames[i];
        kfreeze::v1::StackFrame* frame = task.add_kernel_stack();
        frame->set_pc(f.pc);
        // An interrupted pc (a vCPU's, or one a pt_regs frame saved) is where the CPU was; every
        // other frame is a return address, named by the call before it as the kernel's %pB does.
        const bool interrupted = f.via == FrameVia::kPtRegs || (copy.task.running && i == 0);
        frame->set_symbol(interrupted ? symbolizer.Format(f.pc)
                                      : symbolizer.FormatReturnAddress(f.pc));
        frame->set_sp(f.sp);
        frame->set_via(ViaName(f.via));
      }
      if (!result.stop_reason.empty()) task.set_kernel_stack_unavailable(result.stop_reason);
      if (!result.frames.empty()) ++unwound;
    }
    std::vector<std::string> notes;
    if (!(*code)->modules_unavailable.empty()) {
      notes.push_back(absl::StrCat("module symbols unavailable: ", (*code)->modules_unavailable));
    }
    if (!capture->bpf_unavailable.empty()) {
      notes.push_back(absl::StrCat("BPF symbols unavailable: ", capture->bpf_unavailable));
    }
    if (unwound == 0) notes.push_back("no task's stack could be unwound");
    if (!notes.empty()) report.set_kernel_stacks_unavailable(absl::StrJoin(notes, "; "));
    return absl::OkStatus();
  }

  void MarkUnavailable(FailureDumpReport& report, absl::string_view reason) const override {
    report.set_kernel_stacks_unavailable(std::string(reason));
  }

 private:
  bool arm64() const { return layout_.switch_frame == SwitchFrame::kArm64CpuContext; }

  const StacksSource source_;
  const StackLayout layout_;
  CodeMapCache code_;
};

}  // namespace

std::shared_ptr<dump::DumpPhase> MakeStacksPhase(StacksSource source) {
  return std::make_shared<StacksPhase>(std::move(source));
}

}  // namespace kfreeze::walkers::stacks
