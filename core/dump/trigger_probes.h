// Cheap reads of a running guest that decide when the daemon freezes on its own (auto-triggers).
// Implemented by the sched_ext walker (it knows scx_root, scx_tasks and runnable_at); the
// scheduling and the dual-report assembly live in core/dump/auto_trigger.h.
#pragma once

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

// SCX_EXIT_ERROR: exit kinds at or above it are errors (runtime error, scx_bpf_error, stall).
inline constexpr uint32_t kScxExitError = 1024;

struct ScxExitProbe {
  // scx_root is NULL: no scheduler attached (exit_kind/sched_kva meaningless).
  bool attached = false;
  uint64_t sched_kva = 0;  // identifies the scheduler instance across polls
  uint32_t exit_kind = 0;  // (*scx_root)->exit_kind
  // scx_exit_info is complete (exit_info.kind == exit_kind, the kernel's last write); only
  // meaningful for an error exit.
  bool exit_info_written = true;
  // Where the kernel writes exit_kind (scx_root->exit_kind, or the global scx_exit_kind before
  // 6.16): the late trigger's watchpoint address. 0 = unknown.
  uint64_t exit_kind_kva = 0;
};

struct RunnableAgeProbe {
  uint64_t jiffies = 0;                   // jiffies_64 now
  uint32_t hz = 0;                        // CONFIG_HZ
  uint64_t watchdog_timeout_jiffies = 0;  // scx_root->watchdog_timeout; 0 = unknown
  uint64_t max_age_jiffies = 0;           // max(jiffies - p->scx.runnable_at) over runnable tasks
  uint32_t tasks_scanned = 0;
};

class TriggerProbes {
 public:
  virtual ~TriggerProbes() = default;
  // Must be fast (a few pointer reads): it runs every late_poll_ms while the VM runs.
  virtual absl::StatusOr<ScxExitProbe> ProbeExit() = 0;
  // A bounded scan of runnable tasks; FailedPrecondition naming the missing prerequisite
  // (becomes "scan prerequisites unavailable: <message>").
  virtual absl::StatusOr<RunnableAgeProbe> ProbeRunnableAge() = 0;
  // The SCX_EV_* counters summed over CPUs now, without freezing (elapsed_ms left to the caller),
  // for event_counter_timeline.
  virtual absl::StatusOr<kfreeze::v1::EventCounterSample> SampleEventCounters() {
    return absl::UnimplementedError("this kernel's probes cannot sample event counters");
  }
  // The exit info of scheduler instance `sched_kva` as it reads now (kind 0 until the kernel's
  // last write); FailedPrecondition when that instance is no longer the attached one.
  virtual absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(uint64_t /*sched_kva*/) {
    return absl::UnimplementedError("this kernel's probes cannot read exit info");
  }
};

// A write watchpoint that stopped the VM (RunState "debug").
struct WatchHit {
  uint64_t addr = 0;             // the watchpoint's address
  std::optional<uint32_t> vcpu;  // the vCPU that wrote (QEMU's CPU index)
};

// The late trigger's watchpoint on the exit-kind word, fed to AutoTrigger (a gdbstub in the
// daemon, a fake in tests). Calls come from the trigger thread only.
class WatchSource {
 public:
  virtual ~WatchSource() = default;
  // Moves the 4-byte write watchpoint to `kva` (0: none). Works on a running VM (briefly paused
  // and resumed by the source, which resumes only a pause it made) and on one held by a hit
  // (left held). Non-OK: the source is unusable; the reason is for the log.
  virtual absl::Status Arm(uint64_t kva) = 0;
  // A hit that stopped the VM, if one arrived (never blocks); other stops are consumed.
  virtual absl::StatusOr<std::optional<WatchHit>> PollHit() = 0;
  // Resumes the VM if it is still stopped by the last hit (a capture may have resumed it).
  virtual absl::Status ResumeAfterHit() = 0;
};

}  // namespace kfreeze::dump
