#!/bin/bash
# Attach time and daemon footprint on a real lab guest.
#   bench/guest/attach_footprint.sh [RUNS]
# Boots lab guest NAME (default kfz-attach-fp; $ATTACH_FP_GUEST), runs `kfreeze inspect --json`
# RUNS times (default 7) and prints the median attach_us per step, then starts a kfreezed with an
# admin role for this uid, attaches the guest through `kfreeze attach` and prints the daemon's
# RssAnon before and after the attach (no freeze). Takes the guest down at the end.
# Environment: KFREEZE_BUILD (default <repo>/build), KFREEZE_VM_CACHE / KFREEZE_VM_KERNEL as for
# tests/vm/lab, ATTACH_FP_KEEP=1 to leave the guest up.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${KFREEZE_BUILD:-$repo/build}
runs=${1:-7}
guest=${ATTACH_FP_GUEST:-kfz-attach-fp}
work=$(mktemp -d /tmp/attach-fp.XXXXXX)
kfreeze=$build/clients/kfreeze/kfreeze
kfreezed=$build/server/kfreezed/kfreezed

up=$("$repo/tests/vm/lab" up "$guest" --scenario scx-running)
ram=$(sed -n 's/^RAM=//p' <<<"$up")
qmp=$(sed -n 's/^QMP=//p' <<<"$up")
cleanup() {
  [[ -n ${daemon_pid:-} ]] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [[ ${ATTACH_FP_KEEP:-0} == 1 ]] || "$repo/tests/vm/lab" down "$guest" >/dev/null
}
trap cleanup EXIT

for i in $(seq "$runs"); do "$kfreeze" inspect --ram "$ram" --qmp "$qmp" --json >"$work/inspect$i.json"; done
python3 - "$work" "$runs" <<'PY'
import json, statistics, sys
work, runs = sys.argv[1], int(sys.argv[2])
steps = {}
for i in range(1, runs + 1):
    for k, v in json.load(open(f"{work}/inspect{i}.json"))["attach_us"].items():
        steps.setdefault(k, []).append(v)
print(f"attach_us median of {runs}: " +
      " ".join(f"{k}={int(statistics.median(v))}" for k, v in sorted(steps.items())))
print(f"attach_us total min={min(steps['total'])} max={max(steps['total'])}")
PY

echo "{\"roles\":[{\"role\":\"admin\",\"uids\":[$(id -u)]}]}" >"$work/config.json"
"$kfreezed" --config "$work/config.json" --listen "unix:$work/sock" --archive-dir "$work/archive" \
  --state-dir "$work/state" >"$work/kfreezed.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [[ -S $work/sock ]] && break; sleep 0.1; done
sleep 0.5
echo "kfreezed before attach: $(grep RssAnon /proc/$daemon_pid/status)"
"$kfreeze" --server "unix:$work/sock" attach fp --ram "$ram" --qmp "$qmp" >/dev/null
sleep 1
echo "kfreezed after attach:  $(grep RssAnon /proc/$daemon_pid/status)"
grep -o "attached kernel.*" "$work/kfreezed.log" || true
