# Thin wrapper over CMake. `make demo` and `make test` work on a fresh machine: they install the
# Debian packages (scripts/setup-deps), configure, build, then run.
BUILD ?= build
JOBS  ?= $(shell nproc)
SHARED ?= ../shared

.PHONY: all deps configure build demo test bench clean

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

bench: build
	@scripts/bench $(BUILD) $(SHARED)

clean:
	rm -rf $(BUILD)
