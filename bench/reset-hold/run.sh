#!/usr/bin/env bash
# bench/reset-hold: the AP reset hold wake cycle against a plain INIT-SIPI
# cycle, both under corevm --irqchip user, in the same run, alternating, RUNS
# times; prints the medians (of the guests' own medians) in microseconds and
# the ratios as a Markdown table (bench/README.md keeps one).
#   hold:  reset_hold bench: every AP parked by AP reset hold (GHCB MSR
#          request 0x006); from the BSP's broadcast INIT (then SIPI) to every
#          AP running again (its first instruction after the WRMSR), with and
#          without --protected-state
#   plain: cpu_cycle sipi=single dest=all bench: every AP parked in HLT in a
#          real-mode stub; from the broadcast INIT (then SIPI) to every AP in
#          its stub again (the "reinit" median of bench/lifecycle (b))
# at 4 and 8 vCPUs, 200 rounds each (medians over rounds 2..200).
# Guest ticks become microseconds with KVM_GET_TSC_KHZ (bare_kvm --tsc-khz).
#
# usage: bench/reset-hold/run.sh [RUNS]     (default 5; BUILD=dir selects the build)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
build=${BUILD:-build}
corevm=$build/tools/corevm
guests=$build/guest
bare=$build/bench/lifecycle/bare_kvm

for f in "$corevm" "$bare" "$guests/cpu_cycle.elf" "$guests/reset_hold.elf"; do
	[ -e "$f" ] || { echo "bench/reset-hold: $f missing (run 'make build' first)" >&2; exit 1; }
done
[ -w /dev/kvm ] || { echo "bench/reset-hold: /dev/kvm is not usable here" >&2; exit 1; }
khz=$("$bare" --tsc-khz) && [ "$khz" -gt 0 ] || {
	echo "bench/reset-hold: cannot tell the TSC frequency (KVM_GET_TSC_KHZ)" >&2
	exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# one NAME KEY CPUS CMDLINE IMAGE [corevm options]: one run; KEY's value from its LCBENCH line into $tmp/NAME.
one() {
	local name=$1 key=$2 cpus=$3 cmd=$4 image=$5 v
	shift 5
	"$corevm" run --irqchip user --cpus "$cpus" --mem 64M --timeout 120s "$@" \
		--cmdline "$cmd" "$guests/$image.elf" >"$tmp/out" 2>"$tmp/err" || {
		echo "bench/reset-hold: $image '$cmd' on $cpus vCPUs: status $?" >&2
		tail -n 2 "$tmp/err" >&2
	}
	v=$(tr -d '\r' <"$tmp/out" | sed -n "s/^LCBENCH .*\\b$key=\\([0-9]*\\).*/\\1/p" | head -1)
	[ -n "$v" ] && echo "$v" >>"$tmp/$name" || echo "bench/reset-hold: no $key from $image" >&2
}

for ((r = 0; r < runs; r++)); do
	for cpus in 4 8; do
		one "plain.$cpus" reinit "$cpus" "cycles=200 sipi=single dest=all report=0 bench" cpu_cycle
		one "hold.prot.$cpus" wake "$cpus" "rounds=200 bench protected" reset_hold \
			--protected-state
		one "hold.plain.$cpus" wake "$cpus" "rounds=200 bench" reset_hold
	done
done

us() { # NAME: the median of $tmp/NAME in microseconds, "n/a" without samples
	[ -s "$tmp/$1" ] || { echo n/a; return; }
	sort -n "$tmp/$1" | awk -v khz="$khz" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f", m * 1000 / khz }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b == 0) print "-"; else printf "%.2fx", a / b }'; }

printf '\nbench/reset-hold: medians of %d alternating runs, microseconds (TSC %s kHz)\n\n' "$runs" "$khz"
echo "| vCPUs | plain INIT-SIPI cycle | reset-hold wake, --protected-state | reset-hold wake, no protected state | protected/plain | unprotected/plain |"
echo "| --- | --- | --- | --- | --- | --- |"
for cpus in 4 8; do
	p=$(us "plain.$cpus") a=$(us "hold.prot.$cpus") b=$(us "hold.plain.$cpus")
	printf '| %s | %s | %s | %s | %s | %s |\n' "$cpus" "$p" "$a" "$b" "$(ratio "$a" "$p")" "$(ratio "$b" "$p")"
done
exit 0
