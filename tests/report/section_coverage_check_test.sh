#!/usr/bin/env bash
# section_coverage_check's contract, on the goldens: 0 when every section is accounted for, 1 and
# the unaccounted paths when not, 2 for input it cannot read.
set -u
CHECK=$1; GOLDEN=$2; fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }
out=$("$CHECK" "$GOLDEN/single.ktstr.json"); rc=$?
check "complete report exits 0" '[ $rc -eq 0 ]'
# The dual golden's early side holds only a map and the scx reason.
out=$("$CHECK" "$GOLDEN/dual.proto3.json"); rc=$?
check "incomplete report exits 1" '[ $rc -eq 1 ]'
check "names the early side's empty section" '[[ "$out" == *"early.per_cpu_time: empty, per_cpu_time_unavailable not set"* ]]'
check "does not name an explained one" '[[ "$out" != *"early.dsq_states"* ]]'
out=$(printf 'not a dump' | "$CHECK" - 2>/dev/null); rc=$?
check "unreadable input exits 2" '[ $rc -eq 2 ]'
exit $fail
