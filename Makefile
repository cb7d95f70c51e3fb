# Thin wrapper over Meson so that a fresh Debian machine needs two commands:
#   make demo    boot the bundled demo guest on 4 vCPUs
#   make check   run every test (release build, and again under ASan+UBSan)
BUILD    ?= build
SAN      ?= build-san
COV      ?= build-cov
MESON    ?= meson
COREVM    = $(BUILD)/tools/corevm
SOURCES   = $(shell git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build san demo check test test-san format format-check coverage fuzz bench bench-boot bench-core bench-host bench-sim bench-lifecycle clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

$(SAN)/build.ninja:
	$(MESON) setup $(SAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

$(COV)/build.ninja:
	$(MESON) setup $(COV) --buildtype=debug -Db_coverage=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

san: deps $(SAN)/build.ninja
	ninja -C $(SAN)

demo: build
	@scripts/demo.sh $(COREVM) $(BUILD)/guest/demo.elf

test: build
	$(MESON) test -C $(BUILD) --print-errorlogs --num-processes 2

# The whole suite under ASan+UBSan: unit tests and the guest tests, which run the
# sanitized corevm (the guests themselves are built without sanitizers). Tests in
# suite `nosan` are left out on purpose; tests/guest/meson.build says why for each.
test-san: san
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(MESON) test -C $(SAN) --print-errorlogs --num-processes 2 --no-suite nosan

check: deps format-check test test-san

format:
	clang-format -i $(SOURCES)

format-check:
	@bad=$$(for f in $(SOURCES); do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "clang-format would change (run 'make format'):" $$bad; exit 1; fi

coverage: deps $(COV)/build.ninja
	ninja -C $(COV)
	$(MESON) test -C $(COV) --suite core
	gcovr -r . --object-directory $(COV) --filter 'core/' --print-summary --fail-under-line 90

bench: bench-boot bench-core bench-host bench-sim bench-lifecycle

# The demo guest under corevm and QEMU microvm: medians and ratios (installs QEMU if missing).
bench-boot: build
	bench/boot/run.sh

# Costs of the pure core's hot paths and the model checker's speed (not part of check).
bench-core: build
	$(BUILD)/bench/core/bench_core

# Costs of placement decisions and re-placements on a 256-CPU synthetic host (not part of check).
bench-host: build
	$(BUILD)/bench/host/bench_placement

# The simulator's event rate and the 512-vCPU host's wall time (not part of check).
# vCPU lifecycle costs, guest-measured: corevm vs QEMU microvm and a bare KVM_RUN loop (bench/README.md).
bench-lifecycle: build
	bench/lifecycle/run.sh

bench-sim: build
	$(BUILD)/bench/sim/bench_sim scenarios

clean:
	rm -rf $(BUILD) $(SAN) $(COV)

