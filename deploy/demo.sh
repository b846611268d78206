#!/usr/bin/env bash
# `make demo`: boots a lab guest running a sched_ext scheduler (scenario scx-running), starts
# kfreezed on a private unix socket, asks it for a dump with `kfreeze freeze`, prints the text
# dump and the daemon's timing line, then tears everything down (also on error or Ctrl-C).
#   deploy/demo.sh [BUILD_DIR]     (default: build; `make demo` has built it)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$REPO/$BUILD" ;; esac
export KFREEZE_VM_CACHE=${KFREEZE_VM_CACHE:-$BUILD/vm-cache}
LAB="$REPO/tests/vm/lab"
KFREEZED="$BUILD/server/kfreezed/kfreezed"
KFREEZE="$BUILD/clients/kfreeze/kfreeze"
GUEST=${KFREEZE_DEMO_GUEST:-kfreeze-demo}
for bin in "$KFREEZED" "$KFREEZE"; do
  [ -x "$bin" ] || { echo "demo: $bin is missing; run 'make build' (or make demo)" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/kfreeze-demo.XXXXXX)
SOCK="$WORK/kfreezed.sock"
DAEMON_PID=""
cleanup() {
  set +e
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID"
  fi
  "$LAB" down "$GUEST" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$LAB" fetch >/dev/null
"$LAB" down "$GUEST" >/dev/null 2>&1 || true
echo "== booting guest $GUEST (scenario scx-running; TCG, about 10 s)"
"$LAB" up "$GUEST" --scenario scx-running > "$WORK/guest.env"
RAM=$(sed -n 's/^RAM=//p' "$WORK/guest.env")
QMP=$(sed -n 's/^QMP=//p' "$WORK/guest.env")
echo "   RAM=$RAM"
echo "   QMP=$QMP"
echo "   guest: sched_ext $("$LAB" exec "$GUEST" -- 'echo "$(cat /sys/kernel/sched_ext/state) ops=$(cat /sys/kernel/sched_ext/root/ops)"')"

echo "== starting kfreezed on unix:$SOCK"
"$KFREEZED" --listen "unix:$SOCK" --archive-dir "$WORK/archive" \
  --target "name=$GUEST,ram=$RAM,qmp=$QMP" > "$WORK/kfreezed.log" 2>&1 &
DAEMON_PID=$!
KF=("$KFREEZE" --server "unix:$SOCK")
# Wait for the socket, then for the attach (VMCOREINFO, kallsyms, BTF) to finish.
for _ in $(seq 1 300); do
  if [ -S "$SOCK" ] && "${KF[@]}" targets 2>/dev/null | grep -qE "^$GUEST +(attached|failed)"; then break; fi
  kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/kfreezed.log" >&2; exit 1; }
  sleep 0.1
done
"${KF[@]}" targets
if "${KF[@]}" targets | grep -qE "^$GUEST +failed"; then
  echo "demo: kfreezed could not attach to the guest" >&2
  cat "$WORK/kfreezed.log" >&2
  exit 1
fi

echo "== kfreeze freeze $GUEST"
"${KF[@]}" freeze "$GUEST" --label demo=make-demo
echo
echo "== kfreezed's log line for that freeze"
grep -E "freeze target=" "$WORK/kfreezed.log" | tail -1
echo "== the guest kept running: sched_ext $("$LAB" exec "$GUEST" -- 'cat /sys/kernel/sched_ext/state'), uptime $("$LAB" exec "$GUEST" -- 'cut -d" " -f1 /proc/uptime')s"
echo "== tearing down"
