#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (KFREEZE_FUZZ=ON) in BUILD and runs each for SECONDS
# over its seed corpus (tests/fuzz/corpus/<target>, read-only) plus BUILD/corpus/<target>, where
# new inputs go. Prints one line per target: executions, executions per second, coverage.
#   run-fuzzers.sh BUILD SECONDS [short]
# `short` (tests/run-all.sh): a fixed seed, so a run is reproducible, and no corpus growth kept.
# A crash, a leak, a timeout (-timeout) or an RSS overrun (-rss_limit_mb) fails the script; the
# guest-memory fuzzers also abort on their own per-input wall-time and peak-RSS bounds.
set -euo pipefail
BUILD=${1:?usage: run-fuzzers.sh BUILD SECONDS [short]}
SECONDS_PER_TARGET=${2:?usage: run-fuzzers.sh BUILD SECONDS [short]}
MODE=${3:-long}
JOBS=${FUZZ_JOBS:-2}
cd "$(dirname "$0")/../.."
SEEDS=tests/fuzz/corpus

# Debian's clang-14 package installs clang-14/clang++-14; the unversioned names are optional.
CC_FUZZ=${FUZZ_CC:-$(command -v clang || command -v clang-14)}
CXX_FUZZ=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14)}
start=$(date +%s)
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" \
  -DKFREEZE_FUZZ=ON -DKFREEZE_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target fuzzers
echo "== fuzz build took $(( $(date +%s) - start ))s"

status=0
for seeds in "$SEEDS"/*/; do
  target=$(basename "$seeds")
  bin="$BUILD/tests/fuzz/$target"
  log="$BUILD/fuzz-$target.log"
  flags=(-max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2048
         -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-$target-")
  if [[ $MODE == short ]]; then
    work=$(mktemp -d)
    flags+=(-seed=1)
  else
    work="$BUILD/corpus/$target"
    mkdir -p "$work"
  fi
  if ! "$bin" "${flags[@]}" "$work" "$seeds" >"$log" 2>&1; then
    echo "FAIL $target (log: $log)"
    tail -n 30 "$log"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  peak=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)
  echo "$target: ${execs:-?} execs, ${rate:-?} exec/s, ${cov:-no coverage line}, peak ${peak:-?} MB"
  [[ $MODE == short ]] && rm -rf "$work"
done
exit $status
