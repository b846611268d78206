// One capture of one VM: run state -> pause -> (registers || walk) -> resume, under a soft and a
// hard deadline.
//
// kfreeze only resumes what it paused: `query-status` comes first, and a VM that is not running
// (paused by an operator, an I/O error, a migration...) is walked as found, registers included,
// with neither `stop` nor `cont` (envelope.vm_already_paused; keep_paused has nothing to keep).
//
// With a control channel and a running VM: `stop`, then the vCPU register read (9-20 ms over HMP)
// and the copy of the memory the registers locate (copy_vcpu_memory) run on a helper thread while
// this thread walks the phase table (the walk does not need CR3), then `cont`. The freeze window
// is therefore max(regs, walk) plus stop and cont, not their sum. After `cont` the phases decode
// what they copied (DumpPhase::Decode: stack unwinding, symbols) under the hard deadline.
// The helper also enforces the hard deadline (soft + grace): if the walk is still running then, it
// resumes the VM at once and the rest of the walk reads a running guest. The VM is resumed on every
// path (ResumeGuard) unless the caller asked to keep it paused and the walk finished in time.
//
// Without a control channel: a live dump (envelope.live), vcpu_regs_unavailable says why.
//
// vCPU perf counters (vcpu_perf.h) belong to the target, not the freeze: the caller passes its
// VcpuPerfSource, which checks the vCPU threads before the pause and opens counters only for new
// ones; every freeze reads them right after `stop` and decodes them after `cont`. A pause that
// failed lists every vCPU in unparked_vcpus (QMP `stop` parks all of them or none).
//
// Failures of the freeze itself give a `degraded` report holding what was collected:
//   query failed     -> reason "VMM pause failed: query-status: ...", partial = a live walk; no
//                       stop is sent to a VMM whose run state is unknown, so nothing to resume
//   stop failed      -> reason "VMM pause failed: ...", partial = a live walk
//   registers failed -> reason "vCPU register read failed: ...", partial = the paused walk
//   cont failed      -> reason "VMM exited during the freeze: ..." (VMM unreachable) or
//                       "VMM resume failed: ...", partial = the walk; resume_status is non-OK.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dump/dump_phase.h"
#include "core/dump/resume_guard.h"
#include "core/dump/vcpu_capture.h"
#include "core/dump/vcpu_perf.h"
#include "core/dump/vmm_control.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::dump {

inline constexpr std::chrono::milliseconds kDefaultSoftDeadline{2000};
inline constexpr std::chrono::milliseconds kDefaultHardGrace{1000};
inline constexpr std::chrono::milliseconds kDefaultControlTimeout{1000};
inline constexpr std::chrono::milliseconds kDefaultRegsTimeout{1000};
inline constexpr std::chrono::milliseconds kDefaultDecodeDeadline{10000};

struct FreezeOptions {
  std::chrono::milliseconds soft_deadline = kDefaultSoftDeadline;
  // The VM is resumed this long after the soft deadline even if the walk is still running.
  std::chrono::milliseconds hard_grace = kDefaultHardGrace;
  std::chrono::milliseconds control_timeout = kDefaultControlTimeout;
  std::chrono::milliseconds regs_timeout = kDefaultRegsTimeout;
  // Budget of the decode stage, which runs after the resume and never holds the guest.
  std::chrono::milliseconds decode_deadline = kDefaultDecodeDeadline;
  // Entries rendered per map (unset: the walker's default; 0: no cap).
  std::optional<uint32_t> max_map_entries;
  // Guest bytes the copy stage may copy into the dump's snapshot.
  uint64_t snapshot_max_bytes = caps::kDumpMaxSnapshotBytes;
  // Leave the VM paused after a walk that finished before the hard deadline.
  bool keep_paused = false;
  // The VM is paused by an earlier keep_paused freeze of this caller on this control channel: it
  // is kfreeze's pause, so the run-state query is skipped and the VM is resumed as usual.
  bool pause_held = false;
  // Where the freeze registers its ResumeGuard while it holds the VM paused (may be null).
  ActivePauses* active_pauses = nullptr;
  // Phase names to run; empty = all.
  std::vector<std::string> sections;
  // Set by a shutting-down daemon: the walk stops as if the deadline had passed.
  const std::atomic<bool>* cancel = nullptr;
  // This target's vCPU perf counters, kept across its freezes (may be null: then
  // vcpu_perf_unavailable says none are kept).
  VcpuPerfSource* vcpu_perf = nullptr;
  // "sym+0xoff" for a kernel IP (VcpuRegSnapshot.ip_symbol), when the attachment can tell.
  std::function<std::optional<std::string>(uint64_t)> symbolize_ip;
  // Copies the memory the registers locate (each vCPU's stack) on the register thread, before
  // the resume (may be null). Its result reaches the phases' Decode in VcpuCapture.
  VcpuMemoryCopier copy_vcpu_memory;
};

struct FreezeOutcome {
  // The report (single or degraded), timings, live, deadline_ms and captured_at. The caller adds
  // dump_id, target, trigger, labels and kernel_release.
  kfreeze::v1::DumpEnvelope envelope;
  // The VM was left paused on request; the caller must resume it later.
  bool left_paused = false;
  // The VM was not running when the freeze began; kfreeze neither paused nor resumed it.
  bool vm_already_paused = false;
  // The hard deadline resumed the VM while the walk was still running.
  bool hard_stopped = false;
  // Outcome of `cont` (OK when no cont was needed). Non-OK: the VM may still be paused.
  absl::Status resume_status;
  // Pause start to resume end, the time the guest did not run (0 for a live dump).
  uint64_t freeze_window_us = 0;
  // Guest bytes copied while the VM was paused (also envelope.window_bytes).
  uint64_t window_bytes = 0;
};

// `control` may be null (live dump). InvalidArgument for unknown sections, before any pause.
absl::StatusOr<FreezeOutcome> RunFreeze(VmmControl* control, const PhaseTable& phases,
                                        const FreezeOptions& options);

// The timing named `phase` in an envelope, if present.
std::optional<kfreeze::v1::PhaseTiming> FindTiming(const kfreeze::v1::DumpEnvelope& envelope,
                                                   absl::string_view phase);

}  // namespace kfreeze::dump
