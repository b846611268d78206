// struct scx_sched behind scx_root (kernel/sched/ext_internal.h): the scheduler's name, exit
// state, bypass/abort flags, watchdog timeout and exit info (struct scx_exit_info, including the
// kernel's own dump text and the exit backtrace).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
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

// *scx_root: Kva(0) when no scheduler is attached. FailedPrecondition on kernels not rooted at
// scx_root (see ScxLayout).
absl::StatusOr<Kva> ReadSchedKva(Reader& reader, const ScxContext& ctx);

// jiffies_64 now.
absl::StatusOr<uint64_t> ReadJiffies(Reader& reader, const ScxContext& ctx);

// The exit kind the kernel meant. The disable work swaps scx_sched.exit_kind to SCX_EXIT_DONE and
// keeps the real kind in exit_info->kind, so a raw DONE is resolved through the exit info (an
// error exit stays visible after the disable work ran, until scx_root is cleared).
uint32_t EffectiveExitKind(Reader& reader, const ScxContext& ctx, Kva sched, uint32_t raw);

// Fills `out` from the scx_sched at `sched` (non-null). Fails only if exit_kind is unreadable;
// optional parts that fail are left unset.
absl::Status ReadSchedState(Reader& reader, const ScxContext& ctx, Kva sched,
                            kfreeze::v1::ScxSchedState* out);

// struct scx_exit_info behind scx_sched.exit_info; `dump_len` is the dump buffer's size
// (ops.exit_dump_len, 0 for the kernel default).
absl::StatusOr<kfreeze::v1::ScxExitInfo> ReadExitInfo(Reader& reader, const ScxContext& ctx,
                                                      Kva exit_info, uint64_t dump_len);

}  // namespace kfreeze::walkers::scx
