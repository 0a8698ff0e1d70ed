# Thin wrapper over CMake. `make demo` and `make test` work on a fresh machine: they install the
# Debian packages (scripts/setup-deps), configure, build, then run.
BUILD ?= build
JOBS  ?= $(shell nproc)
SHARED ?= ../shared

.PHONY: all deps configure build demo test test-asan fuzz bench clean

all: build

deps:
	@scripts/setup-deps

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The demo needs the hessq binary only (not the test suite or the benchmarks).
demo: configure
	@cmake --build $(BUILD) --target hessq -j $(JOBS)
	@scripts/demo $(BUILD)/hessq $(SHARED)

test: build
	@ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# The suite under AddressSanitizer + UndefinedBehaviorSanitizer (clang, its own build directory; the
# same build holds the fuzz targets). Every test runs; see docs/RESULTS.md for its time.
ASAN_BUILD ?= build-asan
test-asan:
	@scripts/setup-deps --sanitize
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DHESSQ_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# Each fuzz target for FUZZ_SECONDS (scripts/fuzz prints the table of executions and findings).
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/fuzz $(FUZZ_SECONDS) $(ASAN_BUILD) $(SHARED)

bench: build
	@scripts/bench $(BUILD) $(SHARED)

clean:
	rm -rf $(BUILD)
