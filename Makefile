# Thin wrapper over Meson so that a fresh Debian machine needs two commands:
#   make demo    boot the bundled demo guest on 4 vCPUs
#   make check   run every test (release build and ASan+UBSan build, short fuzz runs)
BUILD    ?= build
SAN      ?= build-san
COV      ?= build-cov
FUZZ     ?= build-fuzz
# make fuzz: seconds per target (FUZZ_TARGETS: a subset, e.g. "loader lapic");
# make check: seconds per target of the short, fixed-seed runs
FUZZ_SECONDS       ?= 300
FUZZ_SHORT_SECONDS ?= 20
FUZZ_TARGETS       ?=
MESON    ?= meson
COREVM    = $(BUILD)/tools/corevm
SOURCES   = $(shell git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null)

.PHONY: all deps build san demo check test test-san format format-check coverage fuzz fuzz-build \
	fuzz-short fuzz-seeds bench bench-boot bench-core bench-host bench-sim bench-lifecycle bench-reset-hold bench-idle clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

$(SAN)/build.ninja:
	$(MESON) setup $(SAN) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

$(COV)/build.ninja:
	$(MESON) setup $(COV) --buildtype=debug -Db_coverage=true

# libFuzzer needs clang; only the fuzz targets are built there (docs/fuzzing.md).
$(FUZZ)/build.ninja:
	CC=clang $(MESON) setup $(FUZZ) --buildtype=debugoptimized -Dfuzz=true -Dtests=false \
		-Dguests=false -Db_sanitize=address,undefined -Db_lundef=false

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

check: deps format-check test test-san fuzz-short

format:
	clang-format -i $(SOURCES)

format-check:
	@bad=$$(for f in $(SOURCES); do clang-format --dry-run -Werror $$f >/dev/null 2>&1 || echo $$f; done); \
	if [ -n "$$bad" ]; then echo "clang-format would change (run 'make format'):" $$bad; exit 1; fi

coverage: deps $(COV)/build.ninja
	ninja -C $(COV)
	$(MESON) test -C $(COV) --suite core
	gcovr -r . --object-directory $(COV) --filter 'core/' --print-summary --fail-under-line 90

fuzz-build: deps $(FUZZ)/build.ninja
	ninja -C $(FUZZ) fuzz-targets

# Every target (or FUZZ_TARGETS) for FUZZ_SECONDS each; fails if one crashes.
fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ) long $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The bounded run of make check: FUZZ_SHORT_SECONDS per target, fixed seed.
fuzz-short: fuzz-build
	scripts/fuzz.sh $(FUZZ) short $(FUZZ_SHORT_SECONDS)

# Rewrites the generated seeds (fuzz/corpus/*/seed-*) after a byte-code change.
fuzz-seeds: fuzz-build
	$(FUZZ)/fuzz/fuzz_gen_seeds fuzz/corpus

bench: bench-boot bench-core bench-host bench-sim bench-lifecycle bench-reset-hold bench-idle

# The demo guest under corevm and QEMU microvm: medians and ratios (installs QEMU if missing).
bench-boot: build
	bench/boot/run.sh

# Costs of the pure core's hot paths and the model checker's speed (not part of check).
bench-core: build
	$(BUILD)/bench/core/bench_core

# Costs of placement decisions and re-placements on a 256-CPU synthetic host (not part of check).
bench-host: build
	$(BUILD)/bench/host/bench_placement

# vCPU lifecycle costs, guest-measured: corevm vs QEMU microvm and a bare KVM_RUN loop (bench/README.md).
bench-lifecycle: build
	bench/lifecycle/run.sh

# The AP reset hold wake cycle against a plain INIT-SIPI cycle (bench/README.md).
bench-reset-hold: build
	bench/reset-hold/run.sh

# The simulator's event rate and the 512-vCPU host's wall time (not part of check).
# The work queue: kick-to-run latency vs a bare kick, idle-work throughput, guest progress cost.
bench-idle: build
	$(BUILD)/bench/idle/bench_idle $(BUILD)/guest $(ROUNDS)

bench-sim: build
	$(BUILD)/bench/sim/bench_sim scenarios

clean:
	rm -rf $(BUILD) $(SAN) $(COV) $(FUZZ)

