#!/usr/bin/env bash
# `make demo`: boots the scx-running guest (a sched_ext scheduler with busy DSQs), shows what the
# lab prints and the guest's own view of its scheduler, then tears the guest down.
# The kfreezed part (attach, freeze, dump) is added here by the daemon's owner; until then this is
# the lab half of the demo.
#   tests/vm/demo.sh [BUILD_DIR]     (default: build; the kernel cache is BUILD_DIR/vm-cache)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
export KFREEZE_VM_CACHE=${KFREEZE_VM_CACHE:-$BUILD/vm-cache}
LAB="$REPO/tests/vm/lab"
NAME=${KFREEZE_DEMO_GUEST:-kfreeze-demo}

"$LAB" fetch
"$LAB" down "$NAME" >/dev/null
trap '"$LAB" down "$NAME" >/dev/null' EXIT
echo "== booting $NAME (scenario scx-running)"
"$LAB" up "$NAME" --scenario scx-running | tee "$BUILD/demo-guest.env"
echo "== the guest's view"
"$LAB" exec "$NAME" -- 'echo "sched_ext: $(cat /sys/kernel/sched_ext/state) ops=$(cat /sys/kernel/sched_ext/root/ops)"
                         bpftool map dump name scx_runn.bss'
echo "== tearing down $NAME"
