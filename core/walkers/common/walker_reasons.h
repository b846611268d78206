// kfreeze's own *_unavailable reasons for the kernel walkers (ktstr has no equivalent). Stable
// strings like core/base/reasons.h; dynamic detail follows after ": " when a caller adds any.
#pragma once

#include <string_view>

namespace kfreeze::walkers {

// sched_ext.
inline constexpr std::string_view kReasonNoSchedExt =
    "kernel has no sched_ext (no scx_root/scx_ops symbol, no struct scx_rq)";
inline constexpr std::string_view kReasonScxPreScxRoot =
    "sched_ext predates scx_root (pre-6.16 scx_ops globals): layout not supported yet";
inline constexpr std::string_view kReasonScxSchedUnreadable =
    "scx_root points to unreadable memory";

// Per-CPU time, PSI, NUMA, program stats.
inline constexpr std::string_view kReasonCpuTimeOffsetsMissing =
    "per-CPU time: missing offset groups or symbols";
inline constexpr std::string_view kReasonPsiUnavailable = "PSI: psi_system not readable";
inline constexpr std::string_view kReasonNoNuma = "kernel has no NUMA node_data (CONFIG_NUMA off)";
inline constexpr std::string_view kReasonNoProgIdr = "prog_idr not readable";

}  // namespace kfreeze::walkers
