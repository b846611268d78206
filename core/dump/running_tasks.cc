#include "core/dump/running_tasks.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kfreeze::dump {
namespace {

// x86-64 kernel stacks are 16 KiB (32 KiB with KASAN): an SP this far above task->stack is on it.
constexpr uint64_t kMaxThreadSize = 32 * 1024;

// Lock slow paths a running task can be caught in, and the names ktstr's dump reports for them.
constexpr std::pair<const char*, const char*> kLockSlowpaths[] = {
    {"queued_spin_lock_slowpath", "queued_spin_lock_slowpath"},
    {"native_queued_spin_lock_slowpath", "queued_spin_lock_slowpath"},
    {"__mutex_lock_slowpath", "mutex_lock_slowpath"},
    {"rwsem_down_read_slowpath", "rwsem_down_read_slowpath"},
    {"rwsem_down_write_slowpath", "rwsem_down_write_slowpath"},
};

bool OnStack(uint64_t sp, uint64_t stack_base) {
  return stack_base != 0 && sp >= stack_base && sp - stack_base < kMaxThreadSize;
}

}  // namespace

void PairRunningTasks(kfreeze::v1::FailureDumpReport& report,
                      const std::function<std::optional<std::string>(uint64_t)>& symbolize) {
  for (kfreeze::v1::TaskEnrichment& task : *report.mutable_task_enrichments()) {
    if (!task.is_running() || !task.has_stack_base()) continue;
    for (const kfreeze::v1::VcpuRegSlot& slot : report.vcpu_regs()) {
      if (!slot.has_regs() || !OnStack(slot.regs().stack_pointer(), task.stack_base())) continue;
      const uint64_t ip = slot.regs().instruction_pointer();
      task.set_running_pc(ip);
      std::optional<std::string> sym = symbolize ? symbolize(ip) : std::nullopt;
      if (sym) {
        task.set_running_symbol(*sym);
        for (const auto& [fn, name] : kLockSlowpaths) {
          if (absl::StartsWith(*sym, absl::StrCat(fn, "+"))) task.set_lock_slowpath_match(name);
        }
      }
      break;
    }
  }
}

}  // namespace kfreeze::dump
