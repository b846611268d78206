#!/usr/bin/env bash
# Runs every Google Benchmark binary of the build and prints their tables (one run each, so the
# ratios within one binary come from the same machine state).
set -euo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
find "$BUILD/bench" -type f -name '*_bench' -perm -u+x | sort | while read -r b; do
  echo "== $b"
  "$b" --benchmark_min_time=0.2 "${@:2}"
done
