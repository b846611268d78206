// The attached scheduler (struct scx_sched behind scx_root, or ext.c's globals before 6.16): its
// name, exit state, bypass/abort flags, watchdog timeout and exit info (struct scx_exit_info,
// including the kernel's own dump text and the exit backtrace).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/sched_location.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// Caps on exit-info strings: SCX_EXIT_MSG_LEN is 1024; the dump defaults to 32 KiB
// (SCX_EXIT_DUMP_DFL_LEN) and a scheduler may ask for more via ops.exit_dump_len.
inline constexpr size_t kMaxExitReasonLen = 256;
inline constexpr size_t kMaxExitMsgLen = 1024;
inline constexpr uint64_t kDefaultExitDumpLen = 32 * 1024;
inline constexpr uint64_t kMaxExitDumpLen = 1024 * 1024;
inline constexpr uint32_t kMaxExitBacktrace = 64;  // SCX_EXIT_BT_LEN

// jiffies_64 now.
absl::StatusOr<uint64_t> ReadJiffies(Reader& reader, const ScxContext& ctx);

// The exit kind the kernel meant. The disable work swaps exit_kind to SCX_EXIT_DONE and keeps the
// real kind in exit_info->kind, so a raw DONE is resolved through the exit info (an error exit
// stays visible after the disable work ran, until the scheduler is detached).
uint32_t EffectiveExitKind(Reader& reader, const ScxContext& ctx, const SchedLocation& sched,
                           uint32_t raw);

// The scheduler's exit kind as EffectiveExitKind resolves it, with the raw value.
struct ExitKind {
  uint32_t effective = 0;
  uint32_t raw = 0;
};
absl::StatusOr<ExitKind> ReadExitKind(Reader& reader, const ScxContext& ctx,
                                      const SchedLocation& sched);

// Fills `out` from the attached scheduler. Fails only if exit_kind is unreadable; optional parts
// that fail are left unset.
absl::Status ReadSchedState(Reader& reader, const ScxContext& ctx, const SchedLocation& sched,
                            kfreeze::v1::ScxSchedState* out);

// struct scx_exit_info; `dump_len` is the dump buffer's size (ops.exit_dump_len, 0 for the kernel
// default).
absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(Reader& reader, const ScxContext& ctx,
                                                      Kva exit_info, uint64_t dump_len);

}  // namespace kfreeze::walkers::scx
