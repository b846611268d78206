# Thin wrapper: the real build is CMake. `make test` and `make demo` are the README's two commands.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-unit test-vm test-sanitize test-matrix demo clean format bench

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
	ctest --test-dir $(BUILD) -L unit --output-on-failure -j $(JOBS)

test-vm: build
	ctest --test-dir $(BUILD) -L vm --output-on-failure

test-sanitize: deps
	cmake -S . -B $(BUILD)-asan -G Ninja -DKFREEZE_SANITIZE=ON -DKFREEZE_BUILD_BENCH=OFF \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" $(CMAKE_FLAGS)
	cmake --build $(BUILD)-asan -j $(JOBS)
	ctest --test-dir $(BUILD)-asan -L unit --output-on-failure -j $(JOBS)

# Every e2e check on every sched_ext kernel of the matrix (hours under TCG); table -> README.
test-matrix: build
	./tests/matrix/run_matrix.py --build $(BUILD) --readme README.md

bench: build
	./bench/run.sh $(BUILD)

demo: build
	./deploy/demo.sh $(BUILD)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(BUILD)-asan
