#include "core/dump/freeze_session.h"

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/base/reasons.h"
#include "core/dump/deadline.h"
#include "core/dump/resume_guard.h"
#include "core/dump/run_phases.h"
#include "core/dump/running_tasks.h"
#include "core/dump/vcpu_perf.h"
#include "core/report/static_reasons.h"

namespace kfreeze::dump {
namespace {

using Clock = Deadline::Clock;
using kfreeze::v1::DegradedFailureDumpReport;
using kfreeze::v1::DumpEnvelope;
using kfreeze::v1::FailureDumpReport;
using kfreeze::v1::PhaseTiming;

// vcpu_regs holds one slot per vCPU index; a hole (index never reported) stays an empty slot.
// Beyond this index the parser's own cap already rejected the text.
constexpr uint32_t kMaxVcpuSlots = 4096;

PhaseTiming Timing(absl::string_view phase, uint64_t us) {
  PhaseTiming t;
  t.set_phase(std::string(phase));
  t.set_duration_us(us);
  return t;
}

void SetCapturedAt(DumpEnvelope& envelope) {
  absl::Time now = absl::Now();
  int64_t nanos = absl::ToUnixNanos(now);
  envelope.mutable_captured_at()->set_seconds(nanos / 1'000'000'000);
  envelope.mutable_captured_at()->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
}

void FillX86(const X86RegisterFile& f, const VcpuRegisters& r, kfreeze::v1::X86Registers& out) {
  out.set_rax(f.rax);
  out.set_rbx(f.rbx);
  out.set_rcx(f.rcx);
  out.set_rdx(f.rdx);
  out.set_rsi(f.rsi);
  out.set_rdi(f.rdi);
  out.set_rbp(f.rbp);
  out.set_rsp(r.sp);
  out.set_r8(f.r8);
  out.set_r9(f.r9);
  out.set_r10(f.r10);
  out.set_r11(f.r11);
  out.set_r12(f.r12);
  out.set_r13(f.r13);
  out.set_r14(f.r14);
  out.set_r15(f.r15);
  out.set_rip(r.pc);
  out.set_rflags(f.rflags);
  out.set_cs(f.cs);
  out.set_ss(f.ss);
  out.set_fs_base(f.fs_base);
  out.set_gs_base(f.gs_base);
  out.set_cr0(f.cr0);
  out.set_cr2(f.cr2);
  out.set_cr3(r.page_table_root.value_or(0));
  out.set_cr4(f.cr4);
  out.set_efer(f.efer);
}

void FillArm64(const Arm64RegisterFile& f, kfreeze::v1::Arm64Registers& out) {
  for (uint64_t x : f.x) out.add_x(x);
  out.set_sp(f.sp);
  out.set_pc(f.pc);
  out.set_pstate(f.pstate);
  out.set_el(f.el);
}

void FillVcpuRegs(const std::vector<VcpuRegisters>& regs, const FreezeOptions& options,
                  google::protobuf::RepeatedPtrField<kfreeze::v1::VcpuRegSlot>* slots) {
  std::map<uint32_t, const VcpuRegisters*> by_index;
  for (const VcpuRegisters& r : regs) {
    if (r.cpu_index < kMaxVcpuSlots) by_index[r.cpu_index] = &r;
  }
  if (by_index.empty()) return;
  uint32_t count = by_index.rbegin()->first + 1;
  for (uint32_t i = 0; i < count; ++i) {
    kfreeze::v1::VcpuRegSlot* slot = slots->Add();
    auto it = by_index.find(i);
    if (it == by_index.end()) continue;
    kfreeze::v1::VcpuRegSnapshot* snap = slot->mutable_regs();
    const VcpuRegisters& r = *it->second;
    snap->set_instruction_pointer(r.pc);
    snap->set_stack_pointer(r.sp);
    if (r.page_table_root) snap->set_page_table_root(*r.page_table_root);
    if (r.x86) FillX86(*r.x86, r, *snap->mutable_x86());
    if (r.arm64) FillArm64(*r.arm64, *snap->mutable_arm64());
    if (options.symbolize_ip) {
      if (std::optional<std::string> sym = options.symbolize_ip(r.pc)) {
        snap->set_ip_symbol(*sym);
      }
    }
  }
}

DegradedFailureDumpReport MakeDegraded(std::string reason, FailureDumpReport partial,
                                       uint64_t elapsed_us) {
  DegradedFailureDumpReport degraded;
  degraded.set_schema(std::string(kSchemaDegraded));
  degraded.set_reason(std::move(reason));
  *degraded.mutable_vcpu_regs() = partial.vcpu_regs();
  // kfreeze has no BPF latch of its own: the RPC/auto-trigger decided the freeze.
  degraded.set_bss_latch_state(std::string(kBssLatchNotResolved));
  if (partial.has_scx_sched_state()) degraded.set_exit_kind(partial.scx_sched_state().exit_kind());
  degraded.set_elapsed_ms(elapsed_us / 1000);
  *degraded.mutable_partial() = std::move(partial);
  return degraded;
}

std::string ReasonWithDetail(absl::string_view reason, const absl::Status& status) {
  std::string detail = status.message().empty() ? absl::StatusCodeToString(status.code())
                                                : std::string(status.message());
  return absl::StrCat(reason, ": ", detail);
}

FailureDumpReport NewReport() {
  FailureDumpReport report;
  report.set_schema(std::string(kSchemaSingle));
  report::StampStaticReasons(report);
  return report;
}

// QMP `stop` parks every vCPU or none: after a failed pause, every vCPU ran on. Their ids come
// from the target's known vCPU threads, else from query-cpus-fast unless the channel is dead.
void ListUnparkedVcpus(VmmControl& control, const FreezeOptions& options,
                       const absl::Status& pause_failure, DegradedFailureDumpReport& degraded) {
  std::vector<VcpuThread> threads;
  if (options.vcpu_perf != nullptr) threads = options.vcpu_perf->threads();
  if (threads.empty() && !absl::IsDeadlineExceeded(pause_failure) &&
      !absl::IsUnavailable(pause_failure)) {
    absl::StatusOr<std::vector<VcpuThread>> queried =
        control.QueryVcpuThreads(options.control_timeout);
    if (queried.ok()) threads = std::move(*queried);
  }
  std::vector<uint32_t> ids;
  for (const VcpuThread& t : threads) ids.push_back(t.cpu_index);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (uint32_t id : ids) degraded.add_unparked_vcpus(id);
}

// The perf counters' words read at the freeze; decoded into the report after the resume.
struct PerfCapture {
  std::shared_ptr<const VcpuPerfCounters> counters;
  std::vector<VcpuPerfRaw> raw;
  std::string unavailable;  // why there is nothing to read
};

// Before the pause: opens the target's counters if needed and sizes the read buffer.
PerfCapture PreparePerf(VmmControl& control, const FreezeOptions& options) {
  PerfCapture capture;
  if (options.vcpu_perf == nullptr) {
    capture.unavailable = std::string(kReasonVcpuPerfNotKept);
    return capture;
  }
  options.vcpu_perf->EnsureOpen(control, options.control_timeout);
  capture.counters = options.vcpu_perf->counters();
  if (capture.counters == nullptr) {
    capture.unavailable = options.vcpu_perf->unavailable();
  } else {
    capture.raw = capture.counters->NewReadBuffer();
  }
  return capture;
}

// Inside the freeze window: raw reads only.
void ReadPerf(PerfCapture& capture) {
  if (capture.counters != nullptr) capture.counters->ReadAll(capture.raw);
}

void FillPerf(const PerfCapture& capture, FailureDumpReport& report) {
  if (capture.counters == nullptr) {
    report.set_vcpu_perf_unavailable(capture.unavailable);
    return;
  }
  std::string failed = FillVcpuPerf(capture.raw, report.mutable_vcpu_perf_at_freeze());
  if (!failed.empty()) report.set_vcpu_perf_unavailable(std::move(failed));
}

// Decoding happens after the resume, so it may use the grace the hard deadline adds.
Deadline DecodeDeadline(const Deadline& walk, const FreezeOptions& options) {
  if (walk.IsInfinite()) return walk;
  return Deadline(walk.start(), options.soft_deadline + options.hard_grace, options.cancel);
}

// The copy stage: every selected phase walks the paused guest through recording Readers. What
// the walk writes is dropped; only the pages it read (the snapshot) and its cuts are kept.
struct CopyStage {
  FailureDumpReport scratch;
  std::vector<std::string> attempted;  // phases that ran (the decode stage replays them)
  uint64_t us = 0;
};

void RunCopyStage(const PhaseTable& phases, const FreezeOptions& options, const Deadline& deadline,
                  GuestSnapshot& snapshot, CopyStage& copy, std::vector<PhaseTiming>* timings) {
  const Clock::time_point begin = Clock::now();
  PhaseContext ctx(deadline, copy.scratch, /*live=*/false);
  ctx.UseSnapshot(&snapshot, SnapshotMode::kRecord);
  ctx.set_max_map_entries(options.max_map_entries);
  const size_t first = timings->size();
  RunPhases(phases, options.sections, ctx, timings);
  for (size_t i = first; i < timings->size(); ++i) {
    if (!(*timings)[i].skipped()) copy.attempted.push_back((*timings)[i].phase());
  }
  // A walk may stop on the deadline itself, before its budget noticed: that is a cut as well.
  absl::Status cut = ctx.budget().status();
  if (cut.ok() && deadline.Expired()) cut = absl::DeadlineExceededError(kReasonDeadlineExceeded);
  // The window's memcpy: the frames the walk marked. Past the deadline too, or the decode stage
  // would have nothing of what the walk did reach.
  const Clock::time_point seal_begin = Clock::now();
  if (absl::Status sealed = snapshot.Seal(); !sealed.ok() && cut.ok()) cut = std::move(sealed);
  timings->push_back(Timing("copy_pages", MicrosBetween(seal_begin, Clock::now())));
  snapshot.SetCopyCut(std::move(cut));
  copy.us = MicrosBetween(begin, Clock::now());
}

// The phases the copy stage skipped keep its reason; its cuts are the report's.
void CarryCopyCuts(const PhaseTable& phases, const CopyStage& copy, FailureDumpReport& report) {
  for (const std::string& name : copy.scratch.truncated_phases()) {
    for (const auto& phase : phases) {
      if (phase->name() != name) continue;
      std::string reason(kReasonDeadlineExceeded);
      for (const kfreeze::v1::StageCut& cut : copy.scratch.stage_cuts()) {
        if (cut.phase() == name) reason = cut.reason();
      }
      phase->MarkUnavailable(report, reason);
      report.add_truncated_phases(name);
    }
  }
  // The decode walk names the copy stage for a phase it found cut: keep one entry per phase.
  for (const kfreeze::v1::StageCut& cut : copy.scratch.stage_cuts()) {
    const auto& have = report.stage_cuts();
    if (std::none_of(have.begin(), have.end(), [&](const kfreeze::v1::StageCut& c) {
          return c.stage() == cut.stage() && c.phase() == cut.phase();
        })) {
      *report.add_stage_cuts() = cut;
    }
  }
  if (copy.scratch.has_dump_truncated_at_us()) {
    report.set_dump_truncated_at_us(copy.scratch.dump_truncated_at_us());
  }
}

// Sums timings of the same name (a phase's replay and its Decode are both "<name>_decode").
void MergeTimings(std::vector<PhaseTiming>& timings, size_t from) {
  std::vector<PhaseTiming> merged;
  for (size_t i = from; i < timings.size(); ++i) {
    auto same = std::find_if(merged.begin(), merged.end(),
                             [&](const PhaseTiming& t) { return t.phase() == timings[i].phase(); });
    if (same == merged.end()) {
      merged.push_back(std::move(timings[i]));
    } else {
      same->set_duration_us(same->duration_us() + timings[i].duration_us());
      same->set_skipped(same->skipped() && timings[i].skipped());
    }
  }
  timings.resize(from);
  for (PhaseTiming& t : merged) timings.push_back(std::move(t));
}

// The decode stage's replay of the copy stage's phases from the snapshot, into `report`.
void ReplayPhases(const PhaseTable& phases, const CopyStage& copy, PhaseContext& ctx,
                  std::vector<PhaseTiming>* timings) {
  const size_t first = timings->size();
  if (!copy.attempted.empty()) {
    RunPhases(phases, copy.attempted, ctx, timings);
  } else {
    for (const auto& phase : phases) {
      phase->MarkUnavailable(ctx.report(), kReasonSectionNotRequested);
    }
  }
  for (size_t i = first; i < timings->size(); ++i) {
    (*timings)[i].set_phase(absl::StrCat((*timings)[i].phase(), "_decode"));
  }
  CarryCopyCuts(phases, copy, ctx.report());
}

// The walk with vCPUs running, then its decode; used without a control channel and after a
// failed stop.
void LiveWalk(const PhaseTable& phases, const FreezeOptions& options, const Deadline& deadline,
              FailureDumpReport& report, std::vector<PhaseTiming>* timings) {
  report.set_vcpu_regs_unavailable(std::string(kReasonNoControlChannel));
  report.set_vcpu_perf_unavailable(std::string(kReasonVcpuPerfLive));
  PhaseContext ctx(deadline, report, /*live=*/true);
  ctx.set_max_map_entries(options.max_map_entries);
  RunPhases(phases, options.sections, ctx, timings);
  RunDecodes(phases, ctx, DecodeDeadline(deadline, options), timings);
}

// What stands for the registers of a dump that did not ask for them (Conclude reads the sections).
absl::StatusOr<std::vector<VcpuRegisters>> RegistersNotRequested() {
  return absl::FailedPreconditionError(kReasonSectionNotRequested);
}

// The registers joined to the walk, the phases' decode step, then the report's kind: degraded
// when `cont` or the register read failed, single otherwise. `report` is the one `ctx` fills.
// `decode_deadline` bounds the decode steps; timings from `first_decode` on are the decode
// stage's, merged by name, and "decode" is the stage's wall time since `decode_begin`.
void Conclude(FailureDumpReport& report, PhaseContext& ctx, const PhaseTable& phases,
              const absl::StatusOr<std::vector<VcpuRegisters>>& regs,
              std::vector<GuestCopy> vcpu_memory, const PerfCapture& perf,
              const FreezeOptions& options, const Deadline& deadline,
              const Deadline& decode_deadline, Clock::time_point decode_begin, size_t first_decode,
              std::vector<PhaseTiming>& timings, FreezeOutcome& out) {
  FillPerf(perf, report);
  const bool regs_wanted = SectionSelected(options.sections, kRegistersSection);
  if (!regs_wanted) {
    report.set_vcpu_regs_unavailable(std::string(kReasonSectionNotRequested));
  } else if (regs.ok()) {
    FillVcpuRegs(*regs, options, report.mutable_vcpu_regs());
    PairRunningTasks(report, options.symbolize_ip);
    ctx.outputs().Put(VcpuCapture{*regs, std::move(vcpu_memory)});
  } else {
    report.set_vcpu_regs_unavailable(ReasonWithDetail(kReasonRegisterReadFailed, regs.status()));
  }
  RunDecodes(phases, ctx, decode_deadline, &timings);
  MergeTimings(timings, first_decode);
  timings.push_back(Timing("decode", MicrosBetween(decode_begin, Clock::now())));
  if (!out.resume_status.ok()) {
    absl::string_view why =
        absl::IsUnavailable(out.resume_status) ? kReasonVmmGone : kReasonResumeFailed;
    *out.envelope.mutable_degraded() = MakeDegraded(ReasonWithDetail(why, out.resume_status),
                                                    std::move(report), deadline.ElapsedUs());
  } else if (regs_wanted && !regs.ok()) {
    std::string reason = report.vcpu_regs_unavailable();
    *out.envelope.mutable_degraded() =
        MakeDegraded(std::move(reason), std::move(report), deadline.ElapsedUs());
  } else {
    *out.envelope.mutable_single() = std::move(report);
  }
}

void Finish(const Deadline& deadline, std::vector<PhaseTiming> timings, FreezeOutcome& out) {
  timings.push_back(Timing("freeze_window", out.freeze_window_us));
  timings.push_back(Timing("total", deadline.ElapsedUs()));
  for (PhaseTiming& t : timings) *out.envelope.add_timings() = std::move(t);
}

}  // namespace

absl::StatusOr<FreezeOutcome> RunFreeze(VmmControl* control, const PhaseTable& phases,
                                        const FreezeOptions& options) {
  if (absl::Status s = ValidateSections(phases, options.sections); !s.ok()) return s;
  FreezeOutcome out;
  SetCapturedAt(out.envelope);
  out.envelope.set_deadline_ms(static_cast<uint64_t>(options.soft_deadline.count()));
  const Clock::time_point start = Clock::now();
  const Deadline deadline(start, options.soft_deadline, options.cancel);
  const Clock::time_point hard = start + options.soft_deadline + options.hard_grace;
  std::vector<PhaseTiming> timings;
  FailureDumpReport report = NewReport();

  if (control == nullptr) {
    out.envelope.set_live(true);
    LiveWalk(phases, options, deadline, report, &timings);
    *out.envelope.mutable_single() = std::move(report);
    Finish(deadline, std::move(timings), out);
    return out;
  }

  if (!options.pause_held) {
    const Clock::time_point query_begin = Clock::now();
    absl::StatusOr<VmmRunState> state = control->QueryRunState(options.control_timeout);
    timings.push_back(Timing("run_state", MicrosBetween(query_begin, Clock::now())));
    if (!state.ok()) {
      // A VMM that cannot tell its run state is broken: a blind `stop` could pause a VM someone
      // else had paused, and kfreeze would then resume it. Walk it as it runs instead.
      out.envelope.set_live(true);
      LiveWalk(phases, options, deadline, report, &timings);
      *out.envelope.mutable_degraded() =
          MakeDegraded(ReasonWithDetail(kReasonPauseFailed, state.status()), std::move(report),
                       deadline.ElapsedUs());
      ListUnparkedVcpus(*control, options, state.status(), *out.envelope.mutable_degraded());
      Finish(deadline, std::move(timings), out);
      return out;
    }
    if (!state->running) {
      // Someone else's pause: a frozen walk with registers, and the run state left untouched.
      out.vm_already_paused = true;
      out.envelope.set_vm_already_paused(true);
      PerfCapture perf = PreparePerf(*control, options);
      ReadPerf(perf);
      absl::StatusOr<std::vector<VcpuRegisters>> regs = RegistersNotRequested();
      std::vector<GuestCopy> vcpu_memory;
      if (SectionSelected(options.sections, kRegistersSection)) {
        const Clock::time_point regs_begin = Clock::now();
        regs = control->ReadRegisters(options.regs_timeout);
        if (regs.ok() && options.copy_vcpu_memory) vcpu_memory = options.copy_vcpu_memory(*regs);
        timings.push_back(Timing("regs", MicrosBetween(regs_begin, Clock::now())));
      }
      PhaseContext ctx(deadline, report, /*live=*/false);
      ctx.set_max_map_entries(options.max_map_entries);
      RunPhases(phases, options.sections, ctx, &timings);
      Conclude(report, ctx, phases, regs, std::move(vcpu_memory), perf, options, deadline,
               DecodeDeadline(deadline, options), Clock::now(), timings.size(), timings, out);
      Finish(deadline, std::move(timings), out);
      return out;
    }
  }

  PerfCapture perf = PreparePerf(*control, options);
  ResumeGuard guard(control, options.control_timeout);
  // Registers on a helper thread, which then doubles as the hard-deadline watchdog. It is started
  // before the stop and waits for it: a thread created inside the window first ran 2.4 ms
  // (median) after the stop on a loaded host, and the window waited for it.
  std::mutex mu;
  std::condition_variable stop_answered, walk_finished, regs_finished;
  bool stop_known = false, stop_ok = false;
  bool walk_done = false, regs_done = false, hard_stopping = false;
  const bool regs_wanted = SectionSelected(options.sections, kRegistersSection);
  absl::StatusOr<std::vector<VcpuRegisters>> regs =
      regs_wanted ? absl::UnknownError("register read not run") : RegistersNotRequested();
  std::vector<GuestCopy> vcpu_memory;
  uint64_t regs_us = 0;
  uint64_t hard_stop_at_us = 0;
  auto helper_body = [&] {
    {
      std::unique_lock<std::mutex> lock(mu);
      stop_answered.wait(lock, [&] { return stop_known; });
      if (!stop_ok) return;
    }
    if (regs_wanted) {
      Clock::time_point regs_begin = Clock::now();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(hard - regs_begin);
      auto budget = std::clamp(left, std::chrono::milliseconds(1), options.regs_timeout);
      regs = control->ReadRegisters(budget);
      // Still paused: only the hard deadline, below, resumes before the walk ends.
      if (regs.ok() && options.copy_vcpu_memory) vcpu_memory = options.copy_vcpu_memory(*regs);
      regs_us = MicrosBetween(regs_begin, Clock::now());
    }
    std::unique_lock<std::mutex> lock(mu);
    regs_done = true;
    regs_finished.notify_all();
    if (!walk_finished.wait_until(lock, hard, [&] { return walk_done; })) {
      hard_stopping = true;
      lock.unlock();
      hard_stop_at_us = deadline.ElapsedUs();
      out.hard_stopped = true;
      (void)guard.Resume();
    }
  };
  std::thread helper;
  try {
    helper = std::thread(helper_body);
  } catch (const std::exception&) {
    // No thread: the registers are read inline after the stop; the guard still resumes.
  }

  const Clock::time_point pause_begin = Clock::now();
  absl::Status stopped = regs_wanted ? control->StopAskingRegisters(options.control_timeout)
                                     : control->Stop(options.control_timeout);
  {
    std::lock_guard<std::mutex> lock(mu);
    stop_known = true;
    stop_ok = stopped.ok();
  }
  stop_answered.notify_all();
  if (!helper.joinable() && stopped.ok()) helper_body();
  if (stopped.ok()) ReadPerf(perf);
  timings.push_back(Timing("pause", MicrosBetween(pause_begin, Clock::now())));
  const size_t regs_slot = timings.size();  // "regs" follows "pause" once the helper is done
  if (!stopped.ok()) {
    if (helper.joinable()) helper.join();  // it saw the failed stop and returned
    // A timed-out stop may still take effect: resume before walking a guest we think runs.
    out.resume_status = guard.Resume();
    timings.push_back(Timing("resume", guard.cont_us()));
    out.envelope.set_live(true);
    LiveWalk(phases, options, deadline, report, &timings);
    *out.envelope.mutable_degraded() = MakeDegraded(ReasonWithDetail(kReasonPauseFailed, stopped),
                                                    std::move(report), deadline.ElapsedUs());
    ListUnparkedVcpus(*control, options, stopped, *out.envelope.mutable_degraded());
    Finish(deadline, std::move(timings), out);
    return out;
  }

  // From here until it returns, a shutting-down daemon may resume the VM at once.
  ActivePauses::Registration registration(options.active_pauses, &guard);

  GuestSnapshot snapshot(options.snapshot_max_bytes);
  CopyStage copy;
  RunCopyStage(phases, options, deadline, snapshot, copy, &timings);
  const Clock::time_point walk_end = Clock::now();
  bool hard_stop = false;
  {
    std::unique_lock<std::mutex> lock(mu);
    walk_done = true;
    walk_finished.notify_all();
    hard_stop = hard_stopping;
    // The registers are the window's last need: resume as soon as they are in, not once the
    // helper thread got a CPU back to exit (on a loaded host that wait is milliseconds).
    if (!hard_stop) regs_finished.wait(lock, [&] { return regs_done; });
  }
  // A hard stop resumed (or is resuming) the VM: let it finish and stamp before going on.
  if (hard_stop && helper.joinable()) helper.join();
  if (regs_wanted) {
    timings.insert(timings.begin() + static_cast<std::ptrdiff_t>(regs_slot),
                   Timing("regs", regs_us));
  }

  // A hard stop or a shutdown may have resumed the VM already: then there is nothing to keep.
  if (options.keep_paused && !out.hard_stopped && guard.KeepPaused()) {
    out.left_paused = true;
    out.freeze_window_us = MicrosBetween(pause_begin, walk_end);
  } else {
    out.resume_status = guard.Resume();
    timings.push_back(Timing("resume", guard.cont_us()));
    out.freeze_window_us = MicrosBetween(pause_begin, guard.resumed_at());
  }
  if (helper.joinable()) helper.join();  // it only returns now: walk_done is set
  if (out.hard_stopped) timings.push_back(Timing("hard_stop", hard_stop_at_us));
  timings.push_back(Timing("copy", copy.us));
  out.window_bytes = snapshot.bytes();
  for (const GuestCopy& c : vcpu_memory) out.window_bytes += c.bytes.size();
  out.envelope.set_window_bytes(out.window_bytes);

  // The decode stage: the VM runs again; the walk is replayed from the snapshot and rendered.
  const Clock::time_point decode_begin = Clock::now();
  const Deadline decode_deadline(decode_begin, options.decode_deadline, options.cancel);
  PhaseContext ctx(decode_deadline, report, /*live=*/false);
  ctx.UseSnapshot(&snapshot, SnapshotMode::kReplay);
  ctx.set_max_map_entries(options.max_map_entries);
  const size_t first_decode = timings.size();
  ReplayPhases(phases, copy, ctx, &timings);
  Conclude(report, ctx, phases, regs, std::move(vcpu_memory), perf, options, deadline,
           decode_deadline, decode_begin, first_decode, timings, out);
  Finish(deadline, std::move(timings), out);
  return out;
}

std::optional<kfreeze::v1::PhaseTiming> FindTiming(const kfreeze::v1::DumpEnvelope& envelope,
                                                   absl::string_view phase) {
  for (const PhaseTiming& t : envelope.timings()) {
    if (t.phase() == phase) return t;
  }
  return std::nullopt;
}

}  // namespace kfreeze::dump
