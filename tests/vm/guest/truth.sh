#!/bin/sh
# The guest's own view of its state, in "@@SECTION <name>" blocks the host turns into JSON
# (tests/vm/labkit/truth.py). Raw tool output only: interpretation happens on the host.
export PATH=/lab/bin:/usr/sbin:/usr/bin:/sbin:/bin
section() { echo "@@SECTION $*"; }

section release
uname -r
section nr_cpus
grep -c '^processor' /proc/cpuinfo
section kallsyms
# Kernel symbols never move while the guest runs: look them up once (~2 s under TCG), then reuse.
ksyms=/run/lab-truth-kallsyms
if [ ! -s $ksyms ]; then
    lab_ksyms _text init_task map_idr prog_idr scx_root runqueues __per_cpu_offset > $ksyms.tmp
    mv $ksyms.tmp $ksyms
fi
while IFS= read -r line; do echo "$line"; done < $ksyms
section maps
bpftool -j map show
for id in $(bpftool map show | sed -n 's/^\([0-9][0-9]*\): .*/\1/p'); do
    section map_dump "$id"
    bpftool -j map dump id "$id" 2>&1
done
section progs
bpftool -j prog show
# Every process costs ~0.1 s under TCG, so files are read with shell builtins where possible.
for f in /sys/kernel/sched_ext/* /sys/kernel/sched_ext/*/*; do
    [ -f "$f" ] || continue
    section sched_ext "${f#/sys/kernel/sched_ext/}"
    while IFS= read -r line; do echo "$line"; done < "$f"
done
section tasks
cat /proc/[0-9]*/stat 2>/dev/null
section proc_stat_cpu
while IFS= read -r line; do
    case "$line" in cpu*) echo "$line" ;; esac
done < /proc/stat
for f in /proc/pressure/*; do
    [ -f "$f" ] || continue
    section pressure "${f##*/}"
    while IFS= read -r line; do echo "$line"; done < "$f"
done
section dmesg_scx
dmesg | grep -i 'sched_ext'
section end
