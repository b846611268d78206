// Wire-stable strings of the report: schema discriminants, *_unavailable reasons and dual-mode
// snapshot tags. Values are ktstr's, byte for byte, so consumers of either tool match on them.
// Dynamic detail never gets spliced into these; it goes in a separate field or after ": ".
#pragma once

#include <array>
#include "absl/strings/string_view.h"

namespace kfreeze {

// Schema discriminants ("schema" key of every report).
inline constexpr absl::string_view kSchemaSingle = "single";
inline constexpr absl::string_view kSchemaDual = "dual";
inline constexpr absl::string_view kSchemaDegraded = "degraded";

// Degraded reports: the freeze itself failed.
inline constexpr absl::string_view kReasonDegradedRendezvousTimeout =
    "vCPU rendezvous timed out before parked acknowledgement";
inline constexpr absl::string_view kReasonDegradedKillDuringRendezvous =
    "vCPU rendezvous aborted by external kill before parked acknowledgement";

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
inline constexpr absl::string_view kReasonNoScxWalker = "no scx walker capture";
// Prefix; the missing group names follow as "[a, b]".
inline constexpr absl::string_view kReasonScxWalkerPartialPrefix =
    "scx walker partial: missing offset groups ";

// NUMA.
inline constexpr absl::string_view kReasonNoNumaWalker =
    "no NUMA walker (host-side walker pending)";

// sdt_alloc, in gate order.
inline constexpr absl::string_view kReasonSdtAllocUnalignedUserVm =
    "user_vm_start is not 4 GiB-aligned; low-32 keying disabled";
inline constexpr absl::string_view kReasonSdtAllocNoBss =
    "no scheduler .bss map (or .bss has no program BTF)";
inline constexpr absl::string_view kReasonSdtAllocNoArena =
    "no arena map captured (kern_vm_start unavailable)";
inline constexpr absl::string_view kReasonSdtAllocNoType =
    "scheduler BTF does not declare struct scx_allocator";
inline constexpr absl::string_view kReasonSdtAllocNoInstance = "no scx_allocator instance in .bss";
inline constexpr absl::string_view kReasonSdtAllocDeadlineExceeded =
    "dump deadline exceeded before sdt_alloc pre-pass could run";

// Arena.
inline constexpr absl::string_view kArenaOffsetsUnavailable =
    "arena BTF offsets unavailable (kernel lacks struct bpf_arena?)";

// Degraded bss_latch_state values.
inline constexpr absl::string_view kBssLatchTriggered = "triggered";
inline constexpr absl::string_view kBssLatchNotTriggered = "not_triggered";
inline constexpr absl::string_view kBssLatchOutOfBounds = "out_of_bounds";
inline constexpr absl::string_view kBssLatchNotResolved = "not_resolved";

// ScxSchedState.source values.
inline constexpr absl::string_view kScxSourceLive = "live";
inline constexpr absl::string_view kScxSourceBssSnapshot = "bss_snapshot";

// kfreeze's own reasons (not in ktstr).
inline constexpr absl::string_view kReasonDeadlineExceeded = "dump deadline exceeded";
inline constexpr absl::string_view kReasonNoControlChannel =
    "no VMM control channel (live dump, vCPUs not paused)";
inline constexpr absl::string_view kReasonPauseFailed = "VMM pause failed";
inline constexpr absl::string_view kReasonRegisterReadFailed = "vCPU register read failed";
inline constexpr absl::string_view kReasonVmmGone = "VMM exited during the freeze";

// Every wire-stable string, for uniqueness and pinning tests.
// kfreeze's own walker reasons (ktstr has none for these cases); dynamic detail follows ": ".
inline constexpr absl::string_view kReasonNoSchedExt =
    "kernel has no sched_ext (no scx_root/scx_ops symbol, no struct scx_rq)";
inline constexpr absl::string_view kReasonScxOpsDisabled =
    "no scheduler attached (scx_ops globals in SCX_DISABLED state)";
inline constexpr absl::string_view kReasonScxSchedUnreadable =
    "scheduler state points to unreadable memory";
inline constexpr absl::string_view kReasonNoNuma = "kernel has no NUMA node_data (CONFIG_NUMA off)";
// Per-dump budgets (ReadBudget): a phase cut by one gets the reason; later phases are skipped.
inline constexpr absl::string_view kReasonReadBudgetExhausted = "dump read budget exhausted";
inline constexpr absl::string_view kReasonMemoryBudgetExhausted = "dump memory budget exhausted";
inline constexpr absl::string_view kReasonNodeBudgetExhausted = "dump node budget exhausted";

inline constexpr std::array kAllWireStrings = {
    kSchemaSingle,
    kSchemaDual,
    kSchemaDegraded,
    kReasonDegradedRendezvousTimeout,
    kReasonDegradedKillDuringRendezvous,
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
    kReasonNoScxWalker,
    kReasonScxWalkerPartialPrefix,
    kReasonNoNumaWalker,
    kReasonSdtAllocUnalignedUserVm,
    kReasonSdtAllocNoBss,
    kReasonSdtAllocNoArena,
    kReasonSdtAllocNoType,
    kReasonSdtAllocNoInstance,
    kReasonSdtAllocDeadlineExceeded,
    kArenaOffsetsUnavailable,
    kReasonDeadlineExceeded,
    kReasonNoControlChannel,
    kReasonPauseFailed,
    kReasonRegisterReadFailed,
    kReasonVmmGone,
    kReasonNoSchedExt,
    kReasonScxOpsDisabled,
    kReasonScxSchedUnreadable,
    kReasonNoNuma,
    kReasonReadBudgetExhausted,
    kReasonMemoryBudgetExhausted,
    kReasonNodeBudgetExhausted,
};

}  // namespace kfreeze
