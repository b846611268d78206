// Text for the smaller sections: registers (QEMU's `info registers` layout when all are known),
// arena allocators, program stats, CPU time, PSI, NUMA, vCPU perf counters and probe counters. Each
// prints its data, then its reason when it has one.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/base/types.h"
#include "core/report/render_text.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report::text {

using namespace kfreeze::v1;

void AppendX86Registers(const X86Registers& x, absl::string_view indent, std::string* out) {
  absl::StrAppend(out, indent,
                  absl::StrFormat("RAX=%016x RBX=%016x RCX=%016x RDX=%016x\n", x.rax(), x.rbx(),
                                  x.rcx(), x.rdx()),
                  indent,
                  absl::StrFormat("RSI=%016x RDI=%016x RBP=%016x RSP=%016x\n", x.rsi(), x.rdi(),
                                  x.rbp(), x.rsp()),
                  indent,
                  absl::StrFormat("R8 =%016x R9 =%016x R10=%016x R11=%016x\n", x.r8(), x.r9(),
                                  x.r10(), x.r11()),
                  indent,
                  absl::StrFormat("R12=%016x R13=%016x R14=%016x R15=%016x\n", x.r12(), x.r13(),
                                  x.r14(), x.r15()));
  // The privilege level is what a reader checks first: CPL 0 means the vCPU ran kernel code.
  absl::StrAppend(out, indent,
                  absl::StrFormat("RIP=%016x RFL=%08x CS=%04x SS=%04x CPL=%d\n", x.rip(),
                                  x.rflags(), x.cs(), x.ss(), x.cs() & 3),
                  indent,
                  absl::StrFormat("FS_BASE=%016x GS_BASE=%016x EFER=%016x\n", x.fs_base(),
                                  x.gs_base(), x.efer()),
                  indent,
                  absl::StrFormat("CR0=%08x CR2=%016x CR3=%016x CR4=%08x\n", x.cr0(), x.cr2(),
                                  x.cr3(), x.cr4()));
}

void AppendArm64Registers(const Arm64Registers& a, absl::string_view indent, std::string* out) {
  // QEMU's layout: PC first, three registers a line, SP after x30. A hostile report may carry
  // any number of x entries: only x0..x30 are shown.
  std::vector<std::string> cells = {absl::StrFormat("PC=%016x", a.pc())};
  for (int i = 0; i < std::min(a.x_size(), 31); ++i) {
    cells.push_back(absl::StrFormat("X%02d=%016x", i, a.x(i)));
  }
  cells.push_back(absl::StrFormat("SP=%016x", a.sp()));
  for (size_t i = 0; i < cells.size(); i += 3) {
    absl::StrAppend(out, indent, cells[i], i + 1 < cells.size() ? " " + cells[i + 1] : "",
                    i + 2 < cells.size() ? " " + cells[i + 2] : "", "\n");
  }
  // The exception level is what a reader checks first: EL0 is user code, EL1/EL2 the kernel.
  const uint64_t p = a.pstate();
  absl::StrAppend(out, indent,
                  absl::StrFormat("PSTATE=%08x %c%c%c%c EL%d%c\n", p, (p >> 31) & 1 ? 'N' : '-',
                                  (p >> 30) & 1 ? 'Z' : '-', (p >> 29) & 1 ? 'C' : '-',
                                  (p >> 28) & 1 ? 'V' : '-', (p >> 2) & 3, p & 1 ? 'h' : 't'));
}

void AppendRegisterFile(const VcpuRegSnapshot& v, absl::string_view indent, std::string* out) {
  if (v.has_x86()) AppendX86Registers(v.x86(), indent, out);
  if (v.has_arm64()) AppendArm64Registers(v.arm64(), indent, out);
}

std::string PageTableRootText(const VcpuRegSnapshot& v) {
  if (v.has_arm64() && v.page_table_root() == 0) return "";
  return absl::StrFormat(" ptroot=0x%016x", v.page_table_root());
}

void RenderVcpuRegs(const FailureDumpReport& r, std::string* out) {
  const auto& regs = r.vcpu_regs();
  if (!regs.empty()) absl::StrAppend(out, "vcpu_regs:\n");
  for (int i = 0; i < regs.size(); ++i) {
    if (!regs[i].has_regs()) {
      absl::StrAppend(out, "  vcpu ", i, ": <unavailable>\n");
      continue;
    }
    const auto& v = regs[i].regs();
    absl::StrAppend(out,
                    absl::StrFormat("  vcpu %d: ip=0x%016x sp=0x%016x", i, v.instruction_pointer(),
                                    v.stack_pointer()),
                    PageTableRootText(v));
    if (v.has_user_page_table_root())
      absl::StrAppend(out, absl::StrFormat(" uptroot=0x%016x", v.user_page_table_root()));
    if (v.has_ip_symbol()) absl::StrAppend(out, " (", v.ip_symbol(), ")");
    absl::StrAppend(out, "\n");
    AppendRegisterFile(v, "    ", out);
  }
  AppendReason(out, "vcpu_regs", r.has_vcpu_regs_unavailable(), r.vcpu_regs_unavailable());
}

void RenderArenaAllocators(const FailureDumpReport& r, std::string* out) {
  for (const auto& a : r.sdt_allocations()) {
    absl::StrAppend(out, "sdt_alloc ", a.allocator_name(), " (elem_size=", a.elem_size(),
                    ", target_type_id=", a.target_type_id());
    if (!a.payload_type_reason().empty())
      absl::StrAppend(out, ", reason=", a.payload_type_reason());
    absl::StrAppend(out, "): ", a.entries_size(), " live", a.truncated() ? " (truncated)" : "",
                    " (", a.skipped_subtrees(), " subtrees skipped)\n");
    for (const auto& e : a.entries()) {
      absl::StrAppend(out, "  [", e.idx(), "/", e.genn(), "] ", Hex(e.user_addr()), " ",
                      RenderValueText(e.payload(), 2), "\n");
    }
  }
  AppendReason(out, "sdt_alloc", r.has_sdt_alloc_unavailable(), r.sdt_alloc_unavailable());
  if (r.has_scx_static_ranges()) {
    for (const auto& s : r.scx_static_ranges().ranges()) {
      absl::StrAppend(out, "scx_static ", s.instance_name(), " [", Hex(s.start_low32()), "..",
                      Hex(uint64_t{s.start_low32()} + s.size()), ") cap=", s.capacity(), "\n");
    }
    if (r.scx_static_ranges().skipped()) {
      absl::StrAppend(out, "scx_static: ", r.scx_static_ranges().skipped(),
                      " instance(s) skipped\n");
    }
  }
  AppendReason(out, "scx_static", r.has_scx_static_unavailable(), r.scx_static_unavailable());
}

void RenderProgStats(const FailureDumpReport& r, std::string* out) {
  if (r.prog_runtime_stats_size() || r.has_prog_runtime_stats_unavailable()) {
    absl::StrAppend(out, "prog_runtime_stats:",
                    r.has_prog_runtime_stats_unavailable()
                        ? absl::StrCat(" <unavailable: ", r.prog_runtime_stats_unavailable(), ">")
                        : "",
                    "\n");
  }
  for (const auto& p : r.prog_runtime_stats()) {
    absl::StrAppend(out, "  ", p.name(), ": cnt=", p.cnt(), " nsecs=", p.nsecs(),
                    " misses=", p.misses());
    if (p.cnt())
      absl::StrAppend(out, absl::StrFormat(" ns/call=%.3f", static_cast<double>(p.nsecs()) /
                                                                static_cast<double>(p.cnt())));
    if (p.misses())
      absl::StrAppend(
          out, absl::StrFormat(" miss_rate=%.4f", static_cast<double>(p.misses()) /
                                                      static_cast<double>(p.cnt() + p.misses())));
    absl::StrAppend(out, "\n");
  }
}

void RenderCpuTime(const FailureDumpReport& r, std::string* out) {
  AppendReason(out, "per_cpu_time", r.has_per_cpu_time_unavailable(), r.per_cpu_time_unavailable());
  if (r.per_cpu_time_size() == 0) return;
  absl::StrAppend(
      out, "per_cpu_time (ms):\n",
      absl::StrFormat("  %4s %10s %10s %10s %10s %10s %12s %10s %10s %10s\n", "CPU", "user", "nice",
                      "system", "softirq", "irq", "idle", "iowait", "steal", "irqs"));
  for (const auto& c : r.per_cpu_time()) {
    auto ms = [](uint64_t ns) { return ns / 1000000; };
    absl::StrAppend(
        out,
        absl::StrFormat("  %4d %10d %10d %10d %10d %10d %12d %10d %10d %10d\n", c.cpu(),
                        ms(c.cpustat_user_ns()), ms(c.cpustat_nice_ns()), ms(c.cpustat_system_ns()),
                        ms(c.cpustat_softirq_ns()), ms(c.cpustat_irq_ns()), ms(c.cpustat_idle_ns()),
                        ms(c.cpustat_iowait_ns()), ms(c.cpustat_steal_ns()), c.irqs_sum()));
  }
}

void RenderPsi(const FailureDumpReport& r, std::string* out) {
  for (const auto& c : r.cgroup_psi()) {
    absl::StrAppend(out, "psi ",
                    c.is_system() ? "system" : (c.has_path() ? c.path() : Hex(c.cgroup_kva())),
                    ": irq_full_total=", c.total_ns(), "ns");
    for (const auto& s : c.states()) {
      absl::StrAppend(
          out, absl::StrFormat(" %s_%s=%dns(avg10=%.2f%%)", s.resource(), s.kind(), s.total_ns(),
                               static_cast<double>(s.avg10_raw()) / 2048.0));
    }
    absl::StrAppend(out, "\n");
  }
  AppendReason(out, "cgroup_psi", r.has_cgroup_psi_unavailable(), r.cgroup_psi_unavailable());
}

void RenderNuma(const FailureDumpReport& r, std::string* out) {
  for (const auto& n : r.per_node_numa()) {
    absl::StrAppend(out, "numa node ", n.node(), ": hit=", n.numa_hit(), " miss=", n.numa_miss(),
                    " foreign=", n.numa_foreign(), " interleave_hit=", n.numa_interleave_hit(),
                    " local=", n.numa_local(), " other=", n.numa_other(), "\n");
  }
  AppendReason(out, "per_node_numa", r.has_per_node_numa_unavailable(),
               r.per_node_numa_unavailable());
}

void RenderVcpuPerf(const FailureDumpReport& r, std::string* out) {
  if (r.vcpu_perf_at_freeze_size()) absl::StrAppend(out, "vcpu_perf_at_freeze:\n");
  for (int i = 0; i < r.vcpu_perf_at_freeze_size(); ++i) {
    const auto& slot = r.vcpu_perf_at_freeze(i);
    if (!slot.has_sample()) {
      absl::StrAppend(out, "  vcpu ", i, ": <unavailable>\n");
      continue;
    }
    const auto& s = slot.sample();
    double ipc =
        s.cycles() ? static_cast<double>(s.instructions()) / static_cast<double>(s.cycles()) : 0;
    absl::StrAppend(out,
                    absl::StrFormat("  vcpu %d: cycles=%d insns=%d ipc=%.3f cache_misses=%d "
                                    "branch_misses=%d (en/ru=%d/%d ns)\n",
                                    i, s.cycles(), s.instructions(), ipc, s.cache_misses(),
                                    s.branch_misses(), s.time_enabled_ns(), s.time_running_ns()));
  }
  AppendReason(out, "vcpu_perf_at_freeze", r.has_vcpu_perf_unavailable(),
               r.vcpu_perf_unavailable());
}

void RenderProbeCounters(const FailureDumpReport& r, std::string* out) {
  if (r.has_probe_counters()) {
    absl::StrAppend(out, "probe_counters:");
    const auto* d = ProbeBssCounters::descriptor();
    for (int f = 0; f < d->field_count(); ++f) {
      absl::StrAppend(
          out, " ", d->field(f)->name(), "=",
          ProbeBssCounters::GetReflection()->GetUInt64(r.probe_counters(), d->field(f)));
    }
    absl::StrAppend(out, "\n");
  }
  AppendReason(out, "probe_counters", r.has_probe_counters_unavailable(),
               r.probe_counters_unavailable());
}

}  // namespace kfreeze::report::text
