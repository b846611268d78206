# Thin wrapper: the real build is CMake. `make test` and `make demo` are the README's two commands.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-unit test-vm test-sanitize test-tsan test-matrix demo clean format bench fuzz

all: build

deps:
	./deploy/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Everything: unit tests, the ASan+UBSan pass over the unit tests, then the real-guest tests.
test: build
	./tests/run-all.sh $(BUILD)

test-unit: build
	ctest --test-dir $(BUILD) -L unit --no-tests=error --output-on-failure -j $(JOBS)

test-vm: build
	ctest --test-dir $(BUILD) -L vm --no-tests=error --output-on-failure

test-sanitize: deps
	cmake -S . -B $(BUILD)-asan -G Ninja -DKFREEZE_SANITIZE=ON -DKFREEZE_BUILD_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	LSAN_OPTIONS="suppressions=$(abspath tests/lsan.supp)" \
	  ctest --test-dir $(BUILD)-asan -L unit --no-tests=error --output-on-failure -j $(JOBS)

# ThreadSanitizer + clang -Wthread-safety (own clang build dir). Debian's absl is not TSan-built:
# its locks reach TSan through the preloaded tests/tsan/absl_sync_tsan.cc (see tests/tsan.supp).
# clang 14's TSan cannot map its shadow on kernels with 32 bits of mmap randomness: run without
# ASLR where the machine lets us (setarch -R; a seccomp profile may forbid it, then run as is).
NO_ASLR := $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)
test-tsan: deps
	cmake -S . -B $(BUILD)-tsan -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DKFREEZE_TSAN=ON -DKFREEZE_THREAD_SAFETY=ON -DKFREEZE_BUILD_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" $(CMAKE_FLAGS)
	cmake --build $(BUILD)-tsan -j $(JOBS)
	LD_PRELOAD=$(abspath $(BUILD)-tsan)/libkfreeze_absl_sync_tsan.so \
	  TSAN_OPTIONS="suppressions=$(abspath tests/tsan.supp) second_deadlock_stack=1" \
	  $(NO_ASLR) ctest --test-dir $(BUILD)-tsan -L unit --no-tests=error --output-on-failure -j $(JOBS)

# libFuzzer targets (clang, $(BUILD)-fuzz): FUZZ_SECONDS per target, corpus kept in
# $(BUILD)-fuzz/corpus/; tests/run-all.sh runs the same targets for a few seconds each.
FUZZ_SECONDS ?= 600
fuzz: deps
	./tests/fuzz/run-fuzzers.sh $(BUILD)-fuzz $(FUZZ_SECONDS)

# Every e2e check on every sched_ext kernel of the matrix (hours under TCG); table -> README.
test-matrix: build
	./tests/matrix/run_matrix.py --build $(BUILD) --readme README.md

bench: build
	./bench/run.sh $(BUILD)
	./bench/guest/run.sh $(BUILD)
	./bench/fleet/run_fleet_bench.py --bench $(BUILD)/bench/fleet/fleet_publish_bench

demo: build
	./deploy/demo.sh $(BUILD)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-fuzz
