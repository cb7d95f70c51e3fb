#!/usr/bin/env bash
# Runs corevm's libFuzzer targets one after the other for a bounded time each (docs/fuzzing.md).
#
# usage: scripts/fuzz.sh BUILD_DIR short|long SECONDS [TARGET...]
#   short: make check's run: fixed seed, a scratch corpus emptied first, the
#          committed seeds read only
#   long:  make fuzz's run: random seed, value profiling, a work corpus kept in
#          BUILD_DIR/fuzz-work/TARGET across runs; one line per run is
#          appended to BUILD_DIR/fuzz-hours.log
# Every target runs in one process (the machine is shared: no -jobs/-workers
# beyond 1). Crashes go to BUILD_DIR/fuzz-crashes/TARGET/, logs to
# BUILD_DIR/fuzz-logs/TARGET.log. Exits 1 if any target found a crash.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: scripts/fuzz.sh BUILD_DIR short|long SECONDS [TARGET...]" >&2
	exit 2
fi
build=$1 mode=$2 secs=$3
shift 3
case $mode in short | long) ;; *)
	echo "fuzz: unknown mode '$mode' (short or long)" >&2
	exit 2
	;;
esac
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
	echo "fuzz: SECONDS must be a positive integer, not '$secs'" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for exe in "$build"/fuzz/fuzz_*; do
		t=${exe##*/fuzz_}
		[ -x "$exe" ] && [ -d "$src/fuzz/corpus/$t" ] && targets+=("$t")
	done
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets in $build/fuzz (build them with: make fuzz-build)" >&2
	exit 1
fi

failed=()
mkdir -p "$build/fuzz-logs"
for t in "${targets[@]}"; do
	exe=$build/fuzz/fuzz_$t
	if [ ! -x "$exe" ] || [ ! -d "$src/fuzz/corpus/$t" ]; then
		echo "fuzz: no target '$t' (have: $(cd "$src/fuzz/corpus" && echo *))" >&2
		exit 2
	fi
	crashes=$build/fuzz-crashes/$t
	log=$build/fuzz-logs/$t.log
	args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
		-artifact_prefix="$crashes/")
	if [ "$mode" = short ]; then
		work=$build/fuzz-short/$t
		rm -rf "$work" "$crashes"
		args+=(-seed=1)
	else
		work=$build/fuzz-work/$t
		args+=(-use_value_profile=1)
	fi
	[ -f "$src/fuzz/dict/$t.dict" ] && args+=(-dict="$src/fuzz/dict/$t.dict")
	mkdir -p "$work" "$crashes"

	start=$(date +%s)
	rc=0
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		"$exe" "${args[@]}" "$work" "$src/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
	took=$(($(date +%s) - start))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -n 1 | cut -d' ' -f2)
	if [ $rc -eq 0 ]; then
		result=ok
	else
		result=CRASH
		failed+=("$t")
	fi
	printf 'fuzz: %-10s %4ss %10s runs  coverage %5s  %s\n' "$t" "$took" "${runs:-?}" \
		"${cov:-?}" "$result"
	if [ $rc -ne 0 ]; then
		(grep -E '^fuzz: invariant|ERROR: |SUMMARY: |runtime error' "$log" || true) |
			head -n 5 | sed 's/^/    /'
		ls -1 "$crashes" | sed "s|^|    input: $crashes/|"
		echo "    log: $log"
	fi
	if [ "$mode" = long ]; then
		printf '%s %s %s s %s runs %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$took" \
			"${runs:-?}" "$result" >>"$build/fuzz-hours.log"
	fi
done

if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: crashes in: ${failed[*]} (inputs in $build/fuzz-crashes/; reproduce: $build/fuzz/fuzz_TARGET FILE)" >&2
	exit 1
fi
