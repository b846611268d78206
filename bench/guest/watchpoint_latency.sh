#!/usr/bin/env bash
# Guest time between the kernel's exit_kind write and kfreeze's late capture, watchpoint vs poll,
# on the gated scx-stall scenario (under TCG: a few minutes).
#
#   watchpoint: the capture runs on the VM the write stopped (RunState "debug"), so the guest ran
#     0 instructions past the write's instruction; the report's enable_state is still "enabled".
#   poll: this script's observe-only watchpoint (its own gdbstub; kfreezed polls in that run)
#     reads jiffies_64 at the write; the polled report's scx_sched_state.jiffies minus that, at
#     the report's HZ, is the guest time that passed (jiffies resolution: 1000/HZ ms).
#
# Usage: bench/guest/watchpoint_latency.sh [BUILD_DIR]   (KFREEZE_VM_KERNEL selects the kernel)
set -euo pipefail
BUILD=$(realpath "${1:-build}")
cd "$(dirname "$0")/../../tests/e2e"
KFREEZE_VM_CACHE=${KFREEZE_VM_CACHE:-$BUILD/vm-cache} PYTHONDONTWRITEBYTECODE=1 \
  ./watchpoint_trigger_e2e.py --kfreezed "$BUILD/server/kfreezed/kfreezed" \
  --watch "$BUILD/tests/walkers/e2e_tool/scx_watch_dual" --source both --measure
