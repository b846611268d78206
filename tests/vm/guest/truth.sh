#!/bin/sh
# The guest's own view of its state, in "@@SECTION <name>" blocks the host turns into JSON
# (tests/vm/labkit/truth.py). Raw tool output only: interpretation happens on the host.
#   truth.sh             everything
#   truth.sh dumps ID... `bpftool -j batch` of `map dump id ID` (the host's follow-up when a
#                        batch stopped at a failing command)
#   truth.sh each ID...  map show, prog show and one `bpftool -j map dump` per map (fallback when
#                        the batch output is unusable)
# Every process costs ~0.1-0.2 s under TCG: files are read with shell builtins and bpftool runs
# once, in batch mode.
export PATH=/lab/bin:/usr/sbin:/usr/bin:/sbin:/bin
B=/tmp/lab-truth.batch

section() { echo "@@SECTION $*"; }

cat_builtin() {
    while IFS= read -r line; do echo "$line"; done < "$1"
}

batch() { # batch ID...: map dumps of these ids (plus whatever is already in $B) in one bpftool
    for id in "$@"; do echo "map dump id $id" >> $B; done
    section bpftool_batch
    bpftool -j batch file $B 2>&1
    rm -f $B
}

case "$1" in
    dumps)
        shift
        : > $B
        batch "$@"
        section end
        exit 0
        ;;
    each)
        shift
        section maps
        bpftool -j map show 2>&1
        section progs
        bpftool -j prog show 2>&1
        for id in "$@"; do
            section map_dump "$id"
            bpftool -j map dump id "$id" 2>&1
        done
        section end
        exit 0
        ;;
esac

section release
cat_builtin /proc/sys/kernel/osrelease
section nr_cpus
n=0
while read -r key rest; do
    [ "$key" = processor ] && n=$((n + 1))
done < /proc/cpuinfo
echo $n
section kallsyms
# Kernel symbols never move while the guest runs: look them up once, then reuse.
ksyms=/run/lab-truth-kallsyms
if [ ! -s $ksyms ]; then
    lab_ksyms _text init_task map_idr prog_idr scx_root runqueues __per_cpu_offset > $ksyms.tmp
    mv $ksyms.tmp $ksyms
fi
cat_builtin $ksyms

ids=""
bpftool map show > /tmp/lab-truth.maps 2>&1
while read -r first rest; do
    case "$first" in
        [0-9]*:) ids="$ids ${first%:}" ;;
    esac
done < /tmp/lab-truth.maps
section map_ids
echo $ids
printf 'map show\nprog show\n' > $B
batch $ids

for f in /sys/kernel/sched_ext/* /sys/kernel/sched_ext/*/*; do
    [ -f "$f" ] || continue
    section sched_ext "${f#/sys/kernel/sched_ext/}"
    cat_builtin "$f"
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
    cat_builtin "$f"
done
section dmesg_scx
dmesg | grep -i 'sched_ext'
section end
