// Wire-stable strings of the report, all of them: schema discriminants, *_unavailable reasons,
// dual-mode snapshot tags, rendered-value reasons. Where ktstr has the string, the value is ktstr's
// byte for byte, so consumers of either tool match on them; the rest are kfreeze's own. Dynamic
// detail never gets spliced into these; it goes in a separate field, after ": ", or after a
// *Prefix constant. tests/report/reasons_test.cc pins every one.
#pragma once

#include <array>
#include "absl/strings/string_view.h"

namespace kfreeze {

// Schema discriminants ("schema" key of every report).
inline constexpr absl::string_view kSchemaSingle = "single";
inline constexpr absl::string_view kSchemaDual = "dual";
inline constexpr absl::string_view kSchemaDegraded = "degraded";

// Dual-mode sibling snapshot tags (kebab-case).
inline constexpr absl::string_view kSnapshotTagEarlyDegraded = "early-degraded";
inline constexpr absl::string_view kSnapshotTagEarlyPreLateDegraded = "early-pre-late-degraded";
inline constexpr absl::string_view kSnapshotTagEarlyOnlyLateSuppressed =
    "early-only-late-suppressed";
inline constexpr absl::string_view kSnapshotTagEarlyOnlyLateNeverFired =
    "early-only-late-never-fired";

// Program runtime stats.
inline constexpr absl::string_view kReasonNoStructOpsLoaded = "no struct_ops programs loaded";
inline constexpr absl::string_view kReasonProgAccessorUnavailable = "prog accessor unavailable";

// Task enrichment.
inline constexpr absl::string_view kReasonTaskWalkerZeroTasks = "task walker yielded zero tasks";
inline constexpr absl::string_view kReasonNoTaskWalker = "no task walker available";

// sched_ext walker. Precedence: missing offset groups > scx_root NULL > no state.
inline constexpr absl::string_view kReasonScxRootNull = "scx_root is NULL (no scheduler attached)";
inline constexpr absl::string_view kReasonScxWalkerNoState = "scx walker reached no state";
// Prefix; the missing group names follow as "[a, b]".
inline constexpr absl::string_view kReasonScxWalkerPartialPrefix =
    "scx walker partial: missing offset groups ";

// sdt_alloc, in gate order.
inline constexpr absl::string_view kReasonSdtAllocNoBss =
    "no scheduler .bss map (or .bss has no program BTF)";
inline constexpr absl::string_view kReasonSdtAllocNoArena =
    "no arena map captured (kern_vm_start unavailable)";
inline constexpr absl::string_view kReasonSdtAllocNoType =
    "scheduler BTF does not declare struct scx_allocator";
inline constexpr absl::string_view kReasonSdtAllocNoInstance = "no scx_allocator instance in .bss";
inline constexpr absl::string_view kReasonSdtAllocDeadlineExceeded =
    "dump deadline exceeded before sdt_alloc pre-pass could run";
// kfreeze's own, for what ktstr's set does not name.
// Prefix; the BTF lookup that failed follows.
inline constexpr absl::string_view kReasonSdtLayoutPrefix = "sdt_alloc layout unusable: ";
inline constexpr absl::string_view kReasonScxStaticNoType =
    "scheduler BTF does not declare struct scx_static";
inline constexpr absl::string_view kReasonScxStaticNoInstance =
    "no struct scx_static variable in any global section";
// Prefix; the BTF lookup that failed follows.
inline constexpr absl::string_view kReasonScxStaticLayoutPrefix = "scx_static layout unusable: ";

// Arena.
inline constexpr absl::string_view kArenaOffsetsUnavailable =
    "arena BTF offsets unavailable (kernel lacks struct bpf_arena?)";

// Degraded bss_latch_state: kfreeze has no BPF latch of its own (the RPC or the auto-trigger
// decides a freeze), so ktstr's other values (triggered, not_triggered, out_of_bounds) never occur.
inline constexpr absl::string_view kBssLatchNotResolved = "not_resolved";

// ScxSchedState.source: kfreeze always reads the live scheduler (ktstr's "bss_snapshot" never
// occurs).
inline constexpr absl::string_view kScxSourceLive = "live";

// kfreeze's own reasons (not in ktstr). Dynamic detail follows ": " (or the prefix itself).
inline constexpr absl::string_view kReasonDeadlineExceeded = "dump deadline exceeded";
inline constexpr absl::string_view kReasonSectionNotRequested = "section not requested";
inline constexpr absl::string_view kReasonNoControlChannel =
    "no VMM control channel (live dump, vCPUs not paused)";
inline constexpr absl::string_view kReasonPauseFailed = "VMM pause failed";
inline constexpr absl::string_view kReasonResumeFailed = "VMM resume failed";
inline constexpr absl::string_view kReasonRegisterReadFailed = "vCPU register read failed";
inline constexpr absl::string_view kReasonVmmGone = "VMM exited during the freeze";
// probe_counters holds the counters of ktstr's own BPF probe; kfreeze never loads code into a
// guest, so every report carries this.
inline constexpr absl::string_view kReasonNoProbeLoaded =
    "kfreeze loads no BPF probe into the guest (it only reads guest memory)";
// early_skipped_reason when only the late trigger is configured.
inline constexpr absl::string_view kReasonEarlyTriggerDisabled = "early trigger disabled";
// early_skipped_reason when the early scan could not run; the missing prerequisites follow.
inline constexpr absl::string_view kReasonEarlyScanPrerequisitesPrefix =
    "scan prerequisites unavailable: ";
inline constexpr absl::string_view kReasonEarlyScanNeverCompleted =
    "early scan never completed before the late trigger fired";
// Prefix; " (peak=<n>j, threshold=<n>j)" follows.
inline constexpr absl::string_view kReasonEarlyMaxAgeNeverCrossedPrefix =
    "max_age never crossed threshold";
// Every *_unavailable of a dual report's late placeholder; the snapshot tag follows.
inline constexpr absl::string_view kReasonLateSnapshotNotTakenPrefix = "late snapshot not taken: ";
// Every *_unavailable of a placeholder standing in for an envelope that held no report.
inline constexpr absl::string_view kReasonNoReportInEnvelope =
    "the capture produced no report (neither single nor degraded partial)";

// vcpu_perf_at_freeze (host perf counters on the VMM's vCPU threads).
inline constexpr absl::string_view kReasonVcpuPerfNotKept =
    "no vCPU perf counters are kept for this target";
inline constexpr absl::string_view kReasonVcpuPerfLive =
    "vCPUs not paused (live dump): there are no counts at a freeze";
inline constexpr absl::string_view kReasonVcpuThreadsUnknown =
    "vCPU thread ids unavailable (query-cpus-fast)";
inline constexpr absl::string_view kReasonVcpuThreadsNone = "the VMM reported no vCPU threads";
inline constexpr absl::string_view kReasonVcpuPerfReadFailedPrefix =
    "perf counter read at the freeze failed: ";

// Walkers.
inline constexpr absl::string_view kReasonNoSchedExt =
    "kernel has no sched_ext (no scx_root/scx_ops symbol, no struct scx_rq)";
inline constexpr absl::string_view kReasonScxOpsDisabled =
    "no scheduler attached (scx_ops globals in SCX_DISABLED state)";
inline constexpr absl::string_view kReasonScxSchedUnreadable =
    "scheduler state points to unreadable memory";
inline constexpr absl::string_view kReasonScxReadErrorsPrefix = "scx walker partial: read errors: ";
inline constexpr absl::string_view kReasonTasksTruncatedPrefix = "task walker truncated: ";
inline constexpr absl::string_view kReasonTasksPartialPrefix = "task walker partial: ";
inline constexpr absl::string_view kReasonProgStatsPartialPrefix = "prog stats partial: ";
inline constexpr absl::string_view kReasonCpuTimePrefix = "per-CPU time: ";
inline constexpr absl::string_view kReasonCpuTimePartialPrefix = "per-CPU time partial: ";
inline constexpr absl::string_view kReasonPsiDisabled =
    "PSI disabled in the guest kernel (psi_disabled)";
inline constexpr absl::string_view kReasonPsiPrefix = "PSI: ";
inline constexpr absl::string_view kReasonPsiPartialPrefix = "PSI partial: ";
inline constexpr absl::string_view kReasonNoNuma = "kernel has no NUMA node_data (CONFIG_NUMA off)";
inline constexpr absl::string_view kReasonNumaNodeCountPrefix =
    "nr_node_ids unreadable or implausible: ";
inline constexpr absl::string_view kReasonNumaPartialPrefix = "NUMA partial: ";

// Event-counter timeline (sampled while the guest runs, copied into each report).
inline constexpr absl::string_view kReasonEventSamplingOff =
    "event sampling is off for this target";
// `kfreeze dump` runs once, without the daemon's sampler.
inline constexpr absl::string_view kReasonEventSamplingOneShot =
    "one-shot dump: the event-counter timeline is sampled only by kfreezed";
inline constexpr absl::string_view kReasonNoEventSampleYet = "no event counter sample taken yet";
inline constexpr absl::string_view kReasonEventSamplingFailedPrefix =
    "event counter sampling failed: ";

// Per-dump budgets (ReadBudget): a phase cut by one gets the reason; later phases are skipped.
inline constexpr absl::string_view kReasonReadBudgetExhausted = "dump read budget exhausted";
inline constexpr absl::string_view kReasonMemoryBudgetExhausted = "dump memory budget exhausted";
inline constexpr absl::string_view kReasonNodeBudgetExhausted = "dump node budget exhausted";

// Rendered values: why a value is unsupported/truncated or a pointer was not followed.
inline constexpr absl::string_view kRenderReasonFwd = "forward declaration: type body not in BTF";
inline constexpr absl::string_view kRenderReasonDepthCap = "render depth cap reached";
inline constexpr absl::string_view kRenderReasonNodeBudget = "render node budget exhausted";
inline constexpr absl::string_view kRenderReasonModifierLoop = "modifier chain too long (loop?)";
inline constexpr absl::string_view kRenderReasonKernelPointer =
    "not an arena address: not dereferenced";
inline constexpr absl::string_view kRenderReasonNoArena = "no arena snapshot to chase into";
inline constexpr absl::string_view kRenderReasonFunctionPointer =
    "function pointer: not dereferenced";
inline constexpr absl::string_view kRenderReasonPointerCycle = "pointer cycle";
inline constexpr absl::string_view kRenderReasonUnsizedPointee =
    "pointee has no size (void, fwd or func)";
inline constexpr absl::string_view kRenderReasonNoBtf = "no BTF";
inline constexpr absl::string_view kRenderReasonUnreadablePrefix = "unreadable: ";
inline constexpr absl::string_view kRenderReasonArenaReadFailedPrefix = "arena read failed: ";
inline constexpr absl::string_view kRenderReasonVoid = "void has no value";
inline constexpr absl::string_view kRenderReasonFuncType = "function type has no value";
// Prefix; the BTF kind number follows.
inline constexpr absl::string_view kRenderReasonUnsupportedKindPrefix = "unsupported BTF kind ";

// Every wire-stable string, for uniqueness and pinning tests.
inline constexpr std::array kAllWireStrings = {
    kSchemaSingle,
    kSchemaDual,
    kSchemaDegraded,
    kSnapshotTagEarlyDegraded,
    kSnapshotTagEarlyPreLateDegraded,
    kSnapshotTagEarlyOnlyLateSuppressed,
    kSnapshotTagEarlyOnlyLateNeverFired,
    kReasonNoStructOpsLoaded,
    kReasonProgAccessorUnavailable,
    kReasonTaskWalkerZeroTasks,
    kReasonNoTaskWalker,
    kReasonScxRootNull,
    kReasonScxWalkerNoState,
    kReasonScxWalkerPartialPrefix,
    kReasonSdtAllocNoBss,
    kReasonSdtAllocNoArena,
    kReasonSdtAllocNoType,
    kReasonSdtAllocNoInstance,
    kReasonSdtAllocDeadlineExceeded,
    kReasonSdtLayoutPrefix,
    kReasonScxStaticNoType,
    kReasonScxStaticNoInstance,
    kReasonScxStaticLayoutPrefix,
    kArenaOffsetsUnavailable,
    kBssLatchNotResolved,
    kScxSourceLive,
    kReasonDeadlineExceeded,
    kReasonSectionNotRequested,
    kReasonNoControlChannel,
    kReasonPauseFailed,
    kReasonResumeFailed,
    kReasonRegisterReadFailed,
    kReasonVmmGone,
    kReasonNoProbeLoaded,
    kReasonEarlyTriggerDisabled,
    kReasonEarlyScanPrerequisitesPrefix,
    kReasonEarlyScanNeverCompleted,
    kReasonEarlyMaxAgeNeverCrossedPrefix,
    kReasonLateSnapshotNotTakenPrefix,
    kReasonNoReportInEnvelope,
    kReasonVcpuPerfNotKept,
    kReasonVcpuPerfLive,
    kReasonVcpuThreadsUnknown,
    kReasonVcpuThreadsNone,
    kReasonVcpuPerfReadFailedPrefix,
    kReasonNoSchedExt,
    kReasonScxOpsDisabled,
    kReasonScxSchedUnreadable,
    kReasonScxReadErrorsPrefix,
    kReasonTasksTruncatedPrefix,
    kReasonTasksPartialPrefix,
    kReasonProgStatsPartialPrefix,
    kReasonCpuTimePrefix,
    kReasonCpuTimePartialPrefix,
    kReasonPsiDisabled,
    kReasonPsiPrefix,
    kReasonPsiPartialPrefix,
    kReasonNoNuma,
    kReasonNumaNodeCountPrefix,
    kReasonNumaPartialPrefix,
    kReasonEventSamplingOff,
    kReasonEventSamplingOneShot,
    kReasonNoEventSampleYet,
    kReasonEventSamplingFailedPrefix,
    kReasonReadBudgetExhausted,
    kReasonMemoryBudgetExhausted,
    kReasonNodeBudgetExhausted,
    kRenderReasonFwd,
    kRenderReasonDepthCap,
    kRenderReasonNodeBudget,
    kRenderReasonModifierLoop,
    kRenderReasonKernelPointer,
    kRenderReasonNoArena,
    kRenderReasonFunctionPointer,
    kRenderReasonPointerCycle,
    kRenderReasonUnsizedPointee,
    kRenderReasonNoBtf,
    kRenderReasonUnreadablePrefix,
    kRenderReasonArenaReadFailedPrefix,
    kRenderReasonVoid,
    kRenderReasonFuncType,
    kRenderReasonUnsupportedKindPrefix,
};

}  // namespace kfreeze
