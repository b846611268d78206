#!/usr/bin/env bash
# The lab benchmarks of the freeze (each boots its own guests; ~25 minutes under TCG in all):
#   scale_window      freeze window vs stop+cont + memcpy(window_bytes) at several sizes, and drgn
#   freeze_latency    Freeze RPC p50/p99 with a durable archive; kfreezed RssAnon over 1,000 freezes
#   attach_footprint  attach wall time per step; kfreezed RssAnon with one target
#   dashboard_scale   the dashboard in headless Chromium on a 100,000-entry map: load, scroll, search
# The 8-guest concurrent freeze (multi_target.py) needs ~5 GiB and is run on its own.
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/../.."
echo "== bench/guest/scale_window.py"
bench/guest/scale_window.py --kfreeze "$BUILD/clients/kfreeze/kfreeze" \
  --kfreezed "$BUILD/server/kfreezed/kfreezed" --rounds 5
echo "== bench/guest/freeze_latency.py"
bench/guest/freeze_latency.py --kfreezed "$BUILD/server/kfreezed/kfreezed" \
  --kfreeze "$BUILD/clients/kfreeze/kfreeze" --loop "$BUILD/bench/server/freeze_rpc_loop"
echo "== bench/guest/attach_footprint.sh"
KFREEZE_BUILD=$BUILD bench/guest/attach_footprint.sh
echo "== bench/guest/dashboard_scale.py"
bench/guest/dashboard_scale.py --kfreezed "$BUILD/server/kfreezed/kfreezed" \
  --kfreeze "$BUILD/clients/kfreeze/kfreeze" --npm-prefix "$BUILD/browser-npm" \
  --shots "$BUILD/test-artifacts/dashboard-scale"
