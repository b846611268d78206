# Helpers for scenarios: `. /lab/lablib.sh`. Plain busybox sh; every helper avoids forks where it
# can, because each new process costs ~0.1 s under TCG.

LAB_BPFFS=/sys/fs/bpf/lab

lab_ready() {
    echo "KFREEZE-SCENARIO-READY"
}

lab_fail() {
    echo "KFREEZE-SCENARIO-FAILED: $*"
    exit 1
}

# lab_le SIZE VALUE: little-endian bytes of VALUE (decimal or 0x hex, < 2^63) in $LAB_LE, in the
# "b0 b1 ..." form bpftool's key/value arguments take.
lab_le() {
    _n=$1
    _v=$(($2))
    LAB_LE=""
    _i=0
    while [ $_i -lt $_n ]; do
        LAB_LE="$LAB_LE $(((_v >> (8 * _i)) & 255))"
        _i=$((_i + 1))
    done
}

# lab_scx_state: the sched_ext state ("enabled", "disabled", ...) in $LAB_SCX_STATE.
lab_scx_state() {
    LAB_SCX_STATE=""
    read -r LAB_SCX_STATE < /sys/kernel/sched_ext/state
}

# lab_wait_scx STATE SECONDS: waits until the sched_ext state is STATE; fails the scenario if not.
lab_wait_scx() {
    _tries=$(($2 * 10))
    while [ $_tries -gt 0 ]; do
        lab_scx_state
        [ "$LAB_SCX_STATE" = "$1" ] && return 0
        usleep 100000
        _tries=$((_tries - 1))
    done
    lab_fail "sched_ext state is '$LAB_SCX_STATE', wanted '$1' within $2 s"
}

# lab_start NAME ARGS...: starts a workload from /lab/bin in the background, detached from the
# scenario's shell, and records its pid in /run/lab-pids.
lab_start() {
    _name=$1
    shift
    "$LAB_BIN/$_name" "$@" > /dev/null 2>&1 < /dev/null &
    echo "$_name $!" >> /run/lab-pids
}
