// The wire-stable strings are ktstr's (or kfreeze's own), byte for byte; renaming one breaks every
// consumer that matches on it. Every constant in kAllWireStrings is pinned here, and the pin table
// must cover all of them, so a new constant cannot ship unpinned.
#include <set>
#include <string>
#include <utility>

#include "core/base/reasons.h"
#include "core/report/placeholder.h"
#include "core/report/static_reasons.h"
#include "gtest/gtest.h"

namespace kfreeze {
namespace {

struct Pin {
  absl::string_view actual;
  absl::string_view expected;
};

constexpr Pin kPins[] = {
    {kSchemaSingle, "single"},
    {kSchemaDual, "dual"},
    {kSchemaDegraded, "degraded"},
    {kSnapshotTagEarlyDegraded, "early-degraded"},
    {kSnapshotTagEarlyPreLateDegraded, "early-pre-late-degraded"},
    {kSnapshotTagEarlyOnlyLateSuppressed, "early-only-late-suppressed"},
    {kSnapshotTagEarlyOnlyLateNeverFired, "early-only-late-never-fired"},
    {kReasonNoStructOpsLoaded, "no struct_ops programs loaded"},
    {kReasonProgAccessorUnavailable, "prog accessor unavailable"},
    {kReasonTaskWalkerZeroTasks, "task walker yielded zero tasks"},
    {kReasonNoTaskWalker, "no task walker available"},
    {kReasonScxRootNull, "scx_root is NULL (no scheduler attached)"},
    {kReasonScxWalkerNoState, "scx walker reached no state"},
    {kReasonScxWalkerPartialPrefix, "scx walker partial: missing offset groups "},
    {kReasonSdtAllocNoBss, "no scheduler .bss map (or .bss has no program BTF)"},
    {kReasonSdtAllocNoArena, "no arena map captured (kern_vm_start unavailable)"},
    {kReasonSdtAllocNoType, "scheduler BTF does not declare struct scx_allocator"},
    {kReasonSdtAllocNoInstance, "no scx_allocator instance in .bss"},
    {kReasonSdtAllocDeadlineExceeded, "dump deadline exceeded before sdt_alloc pre-pass could run"},
    {kReasonSdtLayoutPrefix, "sdt_alloc layout unusable: "},
    {kReasonScxStaticNoType, "scheduler BTF does not declare struct scx_static"},
    {kReasonScxStaticNoInstance, "no struct scx_static variable in any global section"},
    {kReasonScxStaticLayoutPrefix, "scx_static layout unusable: "},
    {kArenaOffsetsUnavailable, "arena BTF offsets unavailable (kernel lacks struct bpf_arena?)"},
    {kBssLatchNotResolved, "not_resolved"},
    {kScxSourceLive, "live"},
    {kReasonDeadlineExceeded, "dump deadline exceeded"},
    {kReasonSectionNotRequested, "section not requested"},
    {kReasonNoControlChannel, "no VMM control channel (live dump, vCPUs not paused)"},
    {kReasonPauseFailed, "VMM pause failed"},
    {kReasonResumeFailed, "VMM resume failed"},
    {kReasonRegisterReadFailed, "vCPU register read failed"},
    {kReasonVmmGone, "VMM exited during the freeze"},
    {kReasonNoProbeLoaded,
     "kfreeze loads no BPF probe into the guest (it only reads guest memory)"},
    {kReasonEarlyTriggerDisabled, "early trigger disabled"},
    {kReasonEarlyScanPrerequisitesPrefix, "scan prerequisites unavailable: "},
    {kReasonEarlyScanNeverCompleted, "early scan never completed before the late trigger fired"},
    {kReasonEarlyMaxAgeNeverCrossedPrefix, "max_age never crossed threshold"},
    {kReasonLateSnapshotNotTakenPrefix, "late snapshot not taken: "},
    {kReasonNoReportInEnvelope,
     "the capture produced no report (neither single nor degraded partial)"},
    {kReasonVcpuPerfNotKept, "no vCPU perf counters are kept for this target"},
    {kReasonVcpuPerfLive, "vCPUs not paused (live dump): there are no counts at a freeze"},
    {kReasonVcpuThreadsUnknown, "vCPU thread ids unavailable (query-cpus-fast)"},
    {kReasonVcpuThreadsNone, "the VMM reported no vCPU threads"},
    {kReasonVcpuPerfReadFailedPrefix, "perf counter read at the freeze failed: "},
    {kReasonNoSchedExt, "kernel has no sched_ext (no scx_root/scx_ops symbol, no struct scx_rq)"},
    {kReasonScxOpsDisabled, "no scheduler attached (scx_ops globals in SCX_DISABLED state)"},
    {kReasonScxSchedUnreadable, "scheduler state points to unreadable memory"},
    {kReasonScxReadErrorsPrefix, "scx walker partial: read errors: "},
    {kReasonTasksTruncatedPrefix, "task walker truncated: "},
    {kReasonTasksPartialPrefix, "task walker partial: "},
    {kReasonProgStatsPartialPrefix, "prog stats partial: "},
    {kReasonCpuTimePrefix, "per-CPU time: "},
    {kReasonCpuTimePartialPrefix, "per-CPU time partial: "},
    {kReasonPsiDisabled, "PSI disabled in the guest kernel (psi_disabled)"},
    {kReasonPsiPrefix, "PSI: "},
    {kReasonPsiPartialPrefix, "PSI partial: "},
    {kReasonNoNuma, "kernel has no NUMA node_data (CONFIG_NUMA off)"},
    {kReasonNumaNodeCountPrefix, "nr_node_ids unreadable or implausible: "},
    {kReasonNumaPartialPrefix, "NUMA partial: "},
    {kReasonEventSamplingOff, "event sampling is off for this target"},
    {kReasonEventSamplingOneShot,
     "one-shot dump: the event-counter timeline is sampled only by kfreezed"},
    {kReasonNoEventSampleYet, "no event counter sample taken yet"},
    {kReasonEventSamplingFailedPrefix, "event counter sampling failed: "},
    {kReasonReadBudgetExhausted, "dump read budget exhausted"},
    {kReasonMemoryBudgetExhausted, "dump memory budget exhausted"},
    {kReasonNodeBudgetExhausted, "dump node budget exhausted"},
    {kRenderReasonFwd, "forward declaration: type body not in BTF"},
    {kRenderReasonDepthCap, "render depth cap reached"},
    {kRenderReasonNodeBudget, "render node budget exhausted"},
    {kRenderReasonModifierLoop, "modifier chain too long (loop?)"},
    {kRenderReasonKernelPointer, "not an arena address: not dereferenced"},
    {kRenderReasonNoArena, "no arena snapshot to chase into"},
    {kRenderReasonFunctionPointer, "function pointer: not dereferenced"},
    {kRenderReasonPointerCycle, "pointer cycle"},
    {kRenderReasonUnsizedPointee, "pointee has no size (void, fwd or func)"},
    {kRenderReasonNoBtf, "no BTF"},
    {kRenderReasonUnreadablePrefix, "unreadable: "},
    {kRenderReasonArenaReadFailedPrefix, "arena read failed: "},
    {kRenderReasonVoid, "void has no value"},
    {kRenderReasonFuncType, "function type has no value"},
    {kRenderReasonUnsupportedKindPrefix, "unsupported BTF kind "},
};

TEST(ReasonsTest, ValuesArePinned) {
  for (const Pin& pin : kPins) EXPECT_EQ(pin.actual, pin.expected);
}

TEST(ReasonsTest, EveryWireStringIsPinned) {
  std::set<std::string> pinned;
  for (const Pin& pin : kPins) pinned.insert(std::string(pin.expected));
  for (absl::string_view s : kAllWireStrings) {
    EXPECT_TRUE(pinned.contains(std::string(s))) << "not pinned: \"" << s << "\"";
  }
  EXPECT_EQ(std::size(kPins), kAllWireStrings.size()) << "a pin for a string not in the list";
}

TEST(ReasonsTest, AllDistinctAndNonEmpty) {
  std::set<std::string> seen;
  for (auto s : kAllWireStrings) {
    EXPECT_FALSE(s.empty());
    EXPECT_TRUE(seen.insert(std::string(s)).second) << "duplicate: " << s;
  }
}

// probe_counters can never be filled by kfreeze: every report it starts says why.
TEST(StaticReasonsTest, ProbeCountersCarryTheirReason) {
  kfreeze::v1::FailureDumpReport r;
  report::StampStaticReasons(r);
  EXPECT_EQ(r.probe_counters_unavailable(), kReasonNoProbeLoaded);
  EXPECT_EQ(report::MakePlaceholderReport("no capture").probe_counters_unavailable(),
            kReasonNoProbeLoaded);
}

// Counters read from a ktstr report are data, not something to explain away.
TEST(StaticReasonsTest, PresentProbeCountersKeepNoReason) {
  kfreeze::v1::FailureDumpReport r;
  r.mutable_probe_counters()->set_probe_count(3);
  report::StampStaticReasons(r);
  EXPECT_FALSE(r.has_probe_counters_unavailable());
}

}  // namespace
}  // namespace kfreeze
