// Text for the task section, in the kernel's sched_ext dump style: the tasks that matter to a
// stall (running, runnable, queued on a DSQ) first, each followed by its kernel stack one %pS
// frame a line, then the rest. Stacks are bounded in the text; the JSON keeps every one.
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

namespace {

// Rows of the task table, and how many tasks get their stack printed under their row.
constexpr int kMaxTaskRows = kMaxListedItems * 4;
constexpr int kMaxStackedTasks = 32;

// The order tasks are shown in: what a stall is about first, then tasks stuck in D state (the
// kernel's hung-task report shows those), then the rest.
enum class Interest { kRunning = 0, kQueued = 1, kUninterruptible = 2, kOther = 3 };

Interest InterestOf(const TaskEnrichment& t) {
  if (t.is_running()) return Interest::kRunning;
  if (t.is_runnable_in_scx() || t.has_dsq_id() || t.state_char() == "R") return Interest::kQueued;
  if (t.state_char() == "D") return Interest::kUninterruptible;
  return Interest::kOther;
}

std::string FrameText(const StackFrame& f) {
  std::string line = FrameSymbol(f);
  // An exception or interrupt frame the unwinder crossed: the frames below it were interrupted.
  if (f.via() == "pt_regs") absl::StrAppend(&line, " (pt_regs)");
  return line;
}

void AppendTaskRow(const TaskEnrichment& t, std::string* out) {
  std::string scx;
  if (t.has_dsq_id()) absl::StrAppend(&scx, " dsq=", Hex(t.dsq_id()));
  if (t.has_runnable_at_age_jiffies())
    absl::StrAppend(&scx, " waiting=", t.runnable_at_age_jiffies(), "j");
  if (t.has_slice()) absl::StrAppend(&scx, " slice=", t.slice());
  if (t.has_scx_flags()) absl::StrAppend(&scx, absl::StrFormat(" flags=0x%x", t.scx_flags()));
  if (t.is_running()) absl::StrAppend(&scx, " running");
  if (t.has_running_symbol()) absl::StrAppend(&scx, " at ", t.running_symbol());
  if (t.has_lock_slowpath_match()) absl::StrAppend(&scx, " in ", t.lock_slowpath_match());
  absl::StrAppend(out,
                  absl::StrFormat("  %7d %7d %-16s %-5s %4s %5d %7d %-10s%s\n", t.pid(), t.tgid(),
                                  t.comm(), t.has_state_char() ? t.state_char() : "?",
                                  t.has_cpu() ? absl::StrCat(t.cpu()) : "?", t.prio(), t.weight(),
                                  t.has_sched_class() ? t.sched_class() : "?", scx));
}

bool HasStackInfo(const TaskEnrichment& t) {
  return t.kernel_stack_size() > 0 || t.has_kernel_stack_unavailable() ||
         t.has_kernel_stack_origin();
}

// "      kernel stack (thread.sp):" then the frames, innermost first, like the kernel's dump; a
// reason after the frames when the unwind stopped early, or instead of them when there are none.
void AppendStack(const TaskEnrichment& t, std::string* out) {
  absl::StrAppend(
      out, "      kernel stack",
      t.has_kernel_stack_origin() ? absl::StrCat(" (", OneLine(t.kernel_stack_origin()), ")") : "",
      ":");
  if (t.kernel_stack_size() == 0) {
    absl::StrAppend(out, " <unavailable: ",
                    t.has_kernel_stack_unavailable() ? t.kernel_stack_unavailable() : "no frames",
                    ">\n");
    return;
  }
  absl::StrAppend(out, "\n");
  const int shown = std::min(t.kernel_stack_size(), kMaxFramesShown);
  for (int i = 0; i < shown; ++i)
    absl::StrAppend(out, "        ", FrameText(t.kernel_stack(i)), "\n");
  if (t.kernel_stack_size() > shown)
    absl::StrAppend(out, "        ... ", t.kernel_stack_size() - shown, " more frames\n");
  if (t.has_kernel_stack_unavailable())
    absl::StrAppend(out, "        <unavailable: ", t.kernel_stack_unavailable(), ">\n");
}

}  // namespace

std::string FrameSymbol(const StackFrame& f) {
  return f.symbol().empty() ? Hex(f.pc()) : OneLine(f.symbol());
}

std::string TaskLabel(const TaskEnrichment& t) {
  return absl::StrCat(OneLine(t.comm()), "[", t.pid(), "]");
}

TasksByKva IndexTasksByKva(const FailureDumpReport& r) {
  TasksByKva tasks;
  for (const auto& t : r.task_enrichments()) {
    if (t.has_task_kva()) tasks.emplace(t.task_kva(), &t);
  }
  return tasks;
}

void RenderTasks(const FailureDumpReport& r, std::string* out) {
  // A partial capture keeps its reason next to what it did capture.
  AppendReason(out, "task_enrichments", r.has_task_enrichments_unavailable(),
               r.task_enrichments_unavailable());
  AppendReason(out, "kernel_stacks", r.has_kernel_stacks_unavailable(),
               r.kernel_stacks_unavailable());
  if (r.task_enrichments_size() == 0) return;

  std::vector<const TaskEnrichment*> order;
  int with_stack = 0;
  for (const auto& t : r.task_enrichments()) {
    order.push_back(&t);
    with_stack += t.kernel_stack_size() > 0 ? 1 : 0;
  }
  std::stable_sort(order.begin(), order.end(),
                   [](const TaskEnrichment* a, const TaskEnrichment* b) {
                     return InterestOf(*a) < InterestOf(*b);
                   });

  absl::StrAppend(out, "tasks: ", r.task_enrichments_size(), " captured, ", with_stack,
                  " with a kernel stack\n");
  absl::StrAppend(out, absl::StrFormat("  %7s %7s %-16s %-5s %4s %5s %7s %-10s %s\n", "PID", "TGID",
                                       "COMM", "STATE", "CPU", "PRIO", "WEIGHT", "CLASS", "SCX"));
  int rows = 0, stacks_shown = 0, stacks_cut = 0;
  bool in_rest = false;
  for (const TaskEnrichment* t : order) {
    const bool matters = InterestOf(*t) <= Interest::kQueued;
    if (rows == 0 && matters) absl::StrAppend(out, "  -- running, runnable or on a DSQ --\n");
    if (!matters && !in_rest) {
      absl::StrAppend(out, "  -- other tasks --\n");
      in_rest = true;
    }
    if (rows == kMaxTaskRows) {
      absl::StrAppend(out, "  ... ", order.size() - rows, " more tasks\n");
      break;
    }
    ++rows;
    AppendTaskRow(*t, out);
    if (!HasStackInfo(*t)) continue;
    if (stacks_shown == kMaxStackedTasks) {
      ++stacks_cut;
      continue;
    }
    ++stacks_shown;
    AppendStack(*t, out);
  }
  // Tasks past the row limit may have stacks too.
  for (size_t i = rows; i < order.size(); ++i) stacks_cut += HasStackInfo(*order[i]) ? 1 : 0;
  if (stacks_cut) {
    absl::StrAppend(out, "kernel stacks: ", with_stack, " of ", r.task_enrichments_size(),
                    " tasks have one; ", stacks_shown, " shown here, ", stacks_cut,
                    " left out (the JSON formats carry every task's stack)\n");
  }
}

}  // namespace kfreeze::report::text
