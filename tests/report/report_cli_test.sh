#!/usr/bin/env bash
# kfreeze report CLI contract: parse/show/convert on goldens; invalid input -> exit 2, one line.
set -u
KF=$1; GOLDEN=$2; fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi; }
out=$("$KF" report parse "$GOLDEN/single.ktstr.json")
check "parse prints schema" '[[ "$out" == schema=single* ]]'
out=$("$KF" report parse - < "$GOLDEN/dual.proto3.json")
check "parse stdin proto3 dual" '[[ "$out" == schema=dual* ]]'
out=$("$KF" report show "$GOLDEN/degraded.ktstr.json")
check "show degraded" '[[ "$out" == *"vcpus_parked: 1/2"* ]]'
out=$("$KF" report show --style kernel "$GOLDEN/single.ktstr.json")
check "show --style kernel" '[[ "$out" == *"triggered exit kind 1026:"*"CPU states"* ]]'
"$KF" report show --style nope "$GOLDEN/single.ktstr.json" > /dev/null 2>&1; rc=$?
check "unknown --style exits 2" '[ $rc -eq 2 ]'
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$KF" report convert --to binpb "$GOLDEN/single.ktstr.json" > "$tmp/d.binpb"
"$KF" report convert --to ktstr-json "$tmp/d.binpb" > "$tmp/back.json"
check "binpb round trip is byte-identical" 'cmp -s "$tmp/back.json" "$GOLDEN/single.ktstr.json"'
"$KF" report convert --to proto-json "$GOLDEN/single.ktstr.json" > "$tmp/p.json"
check "ktstr -> proto-json equals golden" 'cmp -s "$tmp/p.json" "$GOLDEN/single.proto3.json"'
for bad in 'not json' '{"schema":"triple"}' '{"maps":[]}'; do
  printf '%s' "$bad" > "$tmp/bad"
  "$KF" report parse "$tmp/bad" > "$tmp/out" 2> "$tmp/err"; rc=$?
  check "invalid '$bad' exits 2" '[ $rc -eq 2 ]'
  check "invalid '$bad' one stderr line" '[ "$(wc -l < "$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ]'
done
"$KF" report parse /nonexistent/file 2> "$tmp/err"; rc=$?
check "missing file exits 2" '[ $rc -eq 2 ]'
exit $fail
