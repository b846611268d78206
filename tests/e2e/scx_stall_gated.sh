#!/bin/sh
# Scenario for scx_stall_e2e.py: the scx-stall scenario, but gated. It is ready at once and only
# loads lab_stall once /tmp/kfreeze-go exists, so kfreezed can attach and arm its auto-triggers
# first (lab_stall stops dispatching its victim 4 s after ops.init; the watchdog ejects it ~2 s
# later).
. /lab/lablib.sh
lab_ready
while [ ! -e /tmp/kfreeze-go ]; do usleep 100000; done
lab_scx_load $LAB_BPF/scx_stall.bpf.o lab_stall_init || lab_fail "lab_scx_load scx_stall.bpf.o"
lab_wait_scx enabled 30
lab_start lab_stall
lab_start lab_spin
lab_start lab_sleeper 20
lab_wait_scx disabled 120
echo "KFREEZE-SCX-STALL-EJECTED"
