#!/usr/bin/env bash
# `make test`: unit tests, the ASan+UBSan and TSan passes over the unit tests, short fuzz runs,
# then the real-guest (vm) tests.
set -euo pipefail
BUILD=${1:-build}
JOBS=$(nproc)
cd "$(dirname "$0")/.."
echo "== unit tests ($BUILD)"
ctest --test-dir "$BUILD" -L unit --no-tests=error --output-on-failure -j "$JOBS"
echo "== ASan+UBSan unit tests ($BUILD-asan)"
# -O1 -g1: sanitizers keep their precision and symbolized traces, the build is much cheaper on CI.
cmake -S . -B "$BUILD-asan" -G Ninja -DKFREEZE_SANITIZE=ON -DKFREEZE_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" >/dev/null
cmake --build "$BUILD-asan" -j "$JOBS"
LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" \
  ctest --test-dir "$BUILD-asan" -L unit --no-tests=error --output-on-failure -j "$JOBS"
echo "== ThreadSanitizer + -Wthread-safety unit tests ($BUILD-tsan)"
make --no-print-directory test-tsan BUILD="$BUILD" JOBS="$JOBS"
echo "== fuzzers, short run ($BUILD-fuzz; \`make fuzz\` for long runs)"
./tests/fuzz/run-fuzzers.sh "$BUILD-fuzz" "${FUZZ_SHORT_SECONDS:-10}" short
echo "== real-guest tests (label vm)"
start=$(date +%s)
ctest --test-dir "$BUILD" -L vm --no-tests=error --output-on-failure
echo "== vm tests took $(( $(date +%s) - start ))s"
