// "CPU states" of the kernel-style layout, as scx_dump_state() and scx_dump_task() print them:
// each CPU that is not idle, its current task (marked '*') if in sched_ext and each task of its
// runnable list, with the task's sched_ext fields and its kernel stack one %pS frame a line.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/base/types.h"
#include "core/report/render_text_parts.h"

namespace kfreeze::report::text {

using namespace kfreeze::v1;

namespace {

// include/linux/sched/ext.h: scx_entity.flags carries the task state from bit 8 in every kernel
// with sched_ext; the dump prints the flags without it.
constexpr int kScxTaskStateShift = 8;
// CONFIG_NR_CPUS tops out here; a cpulist past it is not the kernel's.
constexpr int kMaxCpus = 8192;
// SCX_EXIT_BT_LEN: the kernel saves no more frames of a task than this.
constexpr int kTaskBacktraceLen = 64;
// Task blocks in one report's text (the kernel's 32 KiB dump holds fewer); the JSON has them all.
constexpr int kMaxTaskBlocks = kMaxListedItems * 4;

// jiffies_to_msecs(): exact when HZ divides 1000, rounded up when 1000 divides HZ.
int64_t JiffiesToMsecs(uint64_t jiffies, uint32_t hz) {
  const unsigned __int128 scaled = static_cast<unsigned __int128>(jiffies) * 1000;
  const unsigned __int128 ms = hz % 1000 == 0 ? (scaled + hz - 1) / hz : scaled / hz;
  return static_cast<int64_t>(std::min<unsigned __int128>(ms, std::numeric_limits<int64_t>::max()));
}

// The kernel's %*pb of a cpumask nr_cpus wide: hex in 32-bit chunks from the top, ','-joined,
// the first chunk as wide as its bits need ("3" for CPUs 0-1 of 2). nullopt for a list that is
// not a cpulist.
std::optional<std::string> CpuMaskHex(const std::string& cpulist, int nr_cpus) {
  std::vector<uint32_t> chunks(kMaxCpus / 32, 0);
  int previous = -1;
  for (absl::string_view range : absl::StrSplit(cpulist, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> ends = absl::StrSplit(range, absl::MaxSplits('-', 1));
    int first = 0, last = 0;
    if (!absl::SimpleAtoi(ends[0], &first)) return std::nullopt;
    last = first;
    if (ends.size() == 2 && !absl::SimpleAtoi(ends[1], &last)) return std::nullopt;
    // The kernel's ranges ascend without overlap, which also bounds the work by kMaxCpus.
    if (first <= previous || last < first || last >= kMaxCpus) return std::nullopt;
    previous = last;
    for (int cpu = first; cpu <= last;) {
      const int chunk_last = std::min(last, cpu / 32 * 32 + 31);
      const uint32_t upto = chunk_last % 32 == 31 ? ~0u : (1u << (chunk_last % 32 + 1)) - 1;
      chunks[cpu / 32] |= upto & ~((1u << (cpu % 32)) - 1);
      cpu = chunk_last + 1;
    }
    nr_cpus = std::max(nr_cpus, last + 1);
  }
  nr_cpus = std::clamp(nr_cpus, 1, kMaxCpus);
  chunks.resize((nr_cpus + 31) / 32);
  std::vector<std::string> hex;
  const int top_bits = nr_cpus % 32 == 0 ? 32 : nr_cpus % 32;
  for (int i = static_cast<int>(chunks.size()) - 1; i >= 0; --i) {
    const int width = i == static_cast<int>(chunks.size()) - 1 ? (top_bits + 3) / 4 : 8;
    hex.push_back(absl::StrFormat("%0*x", width, chunks[i]));
  }
  return absl::StrJoin(hex, ",");
}

// What every CPU's lines are printed with.
struct CpuStates {
  const FailureDumpReport& report;
  TasksByKva tasks;
  int nr_cpus = 0;  // nr_cpu_ids as far as the report shows it: one rq per possible CPU
  // Task blocks still to print, and those left out past the bound.
  int blocks_left = kMaxTaskBlocks;
  int blocks_cut = 0;
};

// One of the task's detail lines: "      " and the parts the report has, or nothing.
void AppendDetailLine(const std::vector<std::string>& parts, std::string* out) {
  if (!parts.empty()) absl::StrAppend(out, "      ", absl::StrJoin(parts, " "), "\n");
}

// scx_dump_task(): " *R comm[pid] -2876ms", its scx_entity lines, then its stack.
void AppendTask(const TaskEnrichment& t, char marker, const CpuStates& cpus, std::string* out) {
  absl::StrAppend(out, "\n ", std::string(1, marker),
                  t.has_state_char() ? OneLine(t.state_char()) : "?", " ", TaskLabel(t));
  const auto& s = cpus.report.scx_sched_state();
  if (t.has_runnable_at_age_jiffies() && s.hz() != 0) {
    // runnable_at minus now: negative for a task waiting since before the capture.
    absl::StrAppend(
        out, absl::StrFormat(" %+dms", -JiffiesToMsecs(t.runnable_at_age_jiffies(), s.hz())));
  }
  absl::StrAppend(out, "\n");

  std::vector<std::string> parts;
  if (t.has_scx_state() && t.has_scx_flags()) {
    parts.push_back(absl::StrFormat("scx_state/flags=%d/0x%x", t.scx_state(),
                                    t.scx_flags() & ~(t.scx_state() << kScxTaskStateShift)));
  }
  if (t.has_dsq_flags()) parts.push_back(absl::StrFormat("dsq_flags=0x%x", t.dsq_flags()));
  if (t.has_ops_state() && t.has_ops_qseq())
    parts.push_back(absl::StrCat("ops_state/qseq=", t.ops_state(), "/", t.ops_qseq()));
  AppendDetailLine(parts, out);

  parts.clear();
  if (t.has_sticky_cpu() && t.has_holding_cpu())
    parts.push_back(absl::StrCat("sticky/holding_cpu=", t.sticky_cpu(), "/", t.holding_cpu()));
  // dsq_id is read with the scx_entity flags; absent then, the task was on no DSQ.
  if (t.has_dsq_id()) {
    parts.push_back(absl::StrFormat("dsq_id=0x%x", t.dsq_id()));
  } else if (t.has_scx_flags()) {
    parts.push_back("dsq_id=(n/a)");
  }
  AppendDetailLine(parts, out);

  parts.clear();
  if (t.has_dsq_vtime()) parts.push_back(absl::StrCat("dsq_vtime=", t.dsq_vtime()));
  if (t.has_slice()) parts.push_back(absl::StrCat("slice=", t.slice()));
  if (t.has_dsq_vtime() || t.weight() != 0) parts.push_back(absl::StrCat("weight=", t.weight()));
  AppendDetailLine(parts, out);

  parts.clear();
  if (t.has_cpus_allowed()) {
    std::optional<std::string> mask = CpuMaskHex(t.cpus_allowed(), cpus.nr_cpus);
    parts.push_back(absl::StrCat("cpus=", mask ? *mask : OneLine(t.cpus_allowed())));
  }
  if (t.has_migration_disabled()) parts.push_back(absl::StrCat("no_mig=", t.migration_disabled()));
  AppendDetailLine(parts, out);

  const int frames = std::min(t.kernel_stack_size(), kTaskBacktraceLen);
  if (frames > 0 || t.has_kernel_stack_unavailable()) absl::StrAppend(out, "\n");
  for (int i = 0; i < frames; ++i)
    absl::StrAppend(out, "    ", FrameSymbol(t.kernel_stack(i)), "\n");
  if (t.has_kernel_stack_unavailable())
    absl::StrAppend(out, "    <unavailable: ", t.kernel_stack_unavailable(), ">\n");
}

// The kernel skips a CPU with nothing runnable whose current task is the idle one.
bool IsIdle(const RqScxState& rq) {
  return rq.runnable_task_kvas_size() == 0 && rq.curr_sched_class() == "idle";
}

void AppendCpu(const RqScxState& rq, CpuStates& cpus, std::string* out) {
  absl::StrAppend(out, "\n",
                  absl::StrFormat("CPU %-4d: nr_run=%d flags=0x%x cpu_rel=%d", rq.cpu(),
                                  rq.nr_running(), rq.flags(), rq.cpu_released() ? 1 : 0));
  if (KernelHas(cpus.report, "rq_scx_state.ops_qseq"))
    absl::StrAppend(out, " ops_qseq=", rq.ops_qseq());
  if (rq.has_kick_sync()) absl::StrAppend(out, " ksync=", rq.kick_sync());
  absl::StrAppend(out, "\n");
  if (rq.has_curr_pid()) {
    absl::StrAppend(out, "          curr=", rq.has_curr_comm() ? OneLine(rq.curr_comm()) : "?", "[",
                    rq.curr_pid(), "]");
    // The report keeps the class by its short name; the kernel prints the symbol (%ps).
    if (rq.has_curr_sched_class())
      absl::StrAppend(out, " class=", OneLine(rq.curr_sched_class()), "_sched_class");
    absl::StrAppend(out, "\n");
  }
  auto task = [&cpus](uint64_t kva) {
    auto it = cpus.tasks.find(kva);
    return it == cpus.tasks.end() ? nullptr : it->second;
  };
  auto room = [&cpus] {
    if (cpus.blocks_left == 0) {
      ++cpus.blocks_cut;
      return false;
    }
    --cpus.blocks_left;
    return true;
  };
  if (rq.curr_sched_class() == "ext" && rq.has_curr_task_kva()) {
    const TaskEnrichment* t = task(rq.curr_task_kva());
    if (t != nullptr && room()) AppendTask(*t, '*', cpus, out);
  }
  for (uint64_t kva : rq.runnable_task_kvas()) {
    if (!room()) continue;
    if (const TaskEnrichment* t = task(kva)) {
      AppendTask(*t, ' ', cpus, out);
    } else {
      absl::StrAppend(out, "\n   task ", Hex(kva), ": not among the captured tasks\n");
    }
  }
}

}  // namespace

void AppendKernelCpuStates(const FailureDumpReport& r, std::string* out) {
  if (r.rq_scx_states_size() == 0) return;
  absl::StrAppend(out, "\nCPU states\n----------\n");
  CpuStates cpus{r, IndexTasksByKva(r)};
  for (const auto& rq : r.rq_scx_states())
    cpus.nr_cpus = std::max(cpus.nr_cpus, static_cast<int>(std::min<uint32_t>(rq.cpu(), kMaxCpus)));
  ++cpus.nr_cpus;
  for (const auto& rq : r.rq_scx_states()) {
    if (!IsIdle(rq)) AppendCpu(rq, cpus, out);
  }
  if (cpus.blocks_cut) {
    absl::StrAppend(out, "\n", cpus.blocks_cut,
                    " more task(s) left out here (the JSON formats carry every one)\n");
  }
}

}  // namespace kfreeze::report::text
