// rq->scx per CPU (struct scx_rq in kernel/sched/sched.h): counters, the current task and the
// runnable_list of sched_ext tasks queued on that CPU.
#pragma once

#include <cstddef>

#include "absl/status/statusor.h"
#include "core/base/types.h"
#include "core/mem/reader.h"
#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

// Tasks per list (runnable_list, one DSQ): beyond this a list is corrupt or the dump would be
// unreadable anyway; the walk stops and flags truncation.
inline constexpr size_t kMaxNodesPerList = 4096;

// &per_cpu(runqueues, cpu).
absl::StatusOr<Kva> RqAddress(const ScxContext& ctx, CpuId cpu);

// Fails when the rq->scx counters cannot be read; a runnable_list that breaks off midway is
// flagged runnable_truncated instead.
absl::StatusOr<kfreeze::v1::RqScxState> ReadRqScx(Reader& reader, const ScxContext& ctx, CpuId cpu);

}  // namespace kfreeze::walkers::scx
