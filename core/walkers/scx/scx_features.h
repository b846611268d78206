// What the guest kernel's sched_ext has, as the walkers found it in BTF and symbols: the layout
// era, where counters and global DSQs live, and every report field this kernel cannot fill.
// Reported with each dump (scx_features) and by `kfreeze inspect --json`.
#pragma once

#include "core/walkers/scx/scx_context.h"
#include "kfreeze/v1/report.pb.h"

namespace kfreeze::walkers::scx {

kfreeze::v1::ScxKernelFeatures DescribeScxFeatures(const ScxContext& ctx);

}  // namespace kfreeze::walkers::scx
