#!/usr/bin/env bash
# kfreeze's command line: each command has its own flags and help; the daemon flags go before or
# after the command; usage errors exit 2 with one line naming what was wrong. Needs no daemon: the
# daemon commands are pointed at a socket that does not exist, and must say so (exit 1).
set -u
KF=$1; GOLDEN=$2; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }
# run ARGS...: rc, stdout and stderr of one invocation, in $rc, $tmp/out and $tmp/err.
run() { "$KF" "$@" > "$tmp/out" 2> "$tmp/err"; rc=$?; }
one_err_line() { [ "$(wc -l < "$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]; }

run --help
check "--help exits 0" '[ $rc -eq 0 ]'
for c in attach detach resume dump freeze get inspect list maps report targets watch; do
  check "--help lists $c" 'grep -qE "^  $c " "$tmp/out"'
done
check "--help lists the daemon flags" 'grep -q -- "--server" "$tmp/out"'

run dump --help
check "dump --help exits 0" '[ $rc -eq 0 ]'
check "dump --help shows dump's flags" 'grep -q -- "--format" "$tmp/out" && grep -q -- "--ram" "$tmp/out"'
check "dump --help does not show freeze's flags" '! grep -q -- "--keep-paused" "$tmp/out"'
run freeze --help
check "freeze --help shows --keep-paused" 'grep -q -- "--keep-paused" "$tmp/out"'
check "freeze --help does not show dump's --out" '! grep -q -- "--out" "$tmp/out"'

run
check "no command exits 2, one line" '[ $rc -eq 2 ] && one_err_line && grep -q "missing command" "$tmp/err"'
run frobnicate
check "unknown command exits 2 naming it" '[ $rc -eq 2 ] && one_err_line && grep -q "frobnicate" "$tmp/err"'
run dump --bogus
check "unknown flag exits 2 naming it" '[ $rc -eq 2 ] && one_err_line && grep -q -- "dump: unknown flag .--bogus" "$tmp/err"'
run get ID --keep-paused
check "another command's flag is unknown here" '[ $rc -eq 2 ] && one_err_line && grep -q -- "--keep-paused" "$tmp/err"'
run freeze
check "missing positional exits 2" '[ $rc -eq 2 ] && one_err_line && grep -q "TARGET is required" "$tmp/err"'
run detach a b
check "extra positional exits 2" '[ $rc -eq 2 ] && one_err_line && grep -q "unexpected argument .b" "$tmp/err"'
run freeze vm --deadline-ms soon
check "a bad number exits 2" '[ $rc -eq 2 ] && one_err_line && grep -q -- "--deadline-ms" "$tmp/err"'
run dump --format yaml --ram /nonexistent
check "dump --format is checked" '[ $rc -eq 2 ] && one_err_line && grep -q -- "--format is text" "$tmp/err"'
run maps --format text --ram /nonexistent
check "maps keeps its own --format" '[ $rc -eq 2 ] && one_err_line && grep -q -- "--format: unknown format .text" "$tmp/err"'
run inspect
check "inspect needs --ram" '[ $rc -eq 2 ] && one_err_line && grep -q -- "--ram FILE is required" "$tmp/err"'

run --server unix:$tmp/none.sock targets
check "--server before the command is used" '[ $rc -eq 1 ] && one_err_line && grep -q "unix:$tmp/none.sock: UNAVAILABLE" "$tmp/err"'
run targets --json --server unix:$tmp/after.sock
check "--server after the command is used" '[ $rc -eq 1 ] && one_err_line && grep -q "unix:$tmp/after.sock: UNAVAILABLE" "$tmp/err"'
run --server unix:$tmp/first.sock freeze vm --server unix:$tmp/last.sock
check "the last --server wins" '[ $rc -eq 1 ] && grep -q "unix:$tmp/last.sock" "$tmp/err"'

run report convert --to=proto-json "$GOLDEN/single.ktstr.json"
check "--flag=value works" '[ $rc -eq 0 ] && cmp -s "$tmp/out" "$GOLDEN/single.proto3.json"'
exit $fail
