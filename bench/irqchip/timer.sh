#!/usr/bin/env bash
# bench/irqchip/timer.sh: the user irqchip's two host clocks for local APIC
# timers, "vcpu" (one POSIX timer per vCPU thread) and "thread" (one timer
# thread for all vCPUs), chosen with COREVM_APIC_TIMER. Runs the timerwake guest
# (TSC-deadline one-shot, HLT until it fires, N rounds per vCPU, all vCPUs at
# once) RUNS times per strategy and vCPU count, alternating, and prints:
#   host: how late the vCPU's thread expired the timer (deadline -> expiry,
#         from --stats apic.timer_late_ns), p50 and p90 over all samples;
#   guest: how late the guest woke (TSC ticks from the deadline to the
#         instruction after HLT, handler included), median of the per-vCPU
#         medians, in us; the kernel irqchip alongside for reference.
#
# usage: bench/irqchip/timer.sh [RUNS]   (default 5; BUILD=dir selects the build)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
build=${BUILD:-build}
corevm=$build/tools/corevm
image=$build/guest/timerwake.elf
args=(--timeout 120s --mem 64M --cmdline "n=64 delta=2500000")

for f in "$corevm" "$image"; do
	[ -e "$f" ] || { echo "bench/irqchip: $f missing (run 'make build' first)" >&2; exit 1; }
done
[ -w /dev/kvm ] || { echo "bench/irqchip: /dev/kvm is not usable here" >&2; exit 1; }
tsc_khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One run: host-side samples (ns) to $tmp/host.KEY, guest medians (ticks) to $tmp/guest.KEY.
measure() { # key irqchip strategy cpus
	local key=$1 chip=$2 strategy=$3 cpus=$4
	COREVM_APIC_TIMER=$strategy "$corevm" run --irqchip "$chip" --cpus "$cpus" \
		--stats "$tmp/stats.json" "${args[@]}" "$image" >"$tmp/out" 2>&1 || {
		echo "bench/irqchip: $key run failed (not counted):" >&2
		tail -n 3 "$tmp/out" >&2
		return 0
	}
	awk '/^timerwake: vcpu/ { print $5 }' "$tmp/out" >>"$tmp/guest.$key"
	python3 -c 'import json, sys
for v in json.load(open(sys.argv[1]))["vcpus"]:
    for s in v.get("apic", {}).get("timer_late_ns", []): print(s)' "$tmp/stats.json" \
		>>"$tmp/host.$key"
}

pct() { # file percentile
	sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END { if (!NR) print "nan"; else print v[int((NR - 1) * p) + 1] }'
}

for cpus in 1 4; do
	for ((i = 0; i < runs; i++)); do
		measure "vcpu.$cpus" user vcpu "$cpus"
		measure "thread.$cpus" user thread "$cpus"
		measure "kernel.$cpus" kernel vcpu "$cpus"
	done
done

printf '\nbench/irqchip: local APIC timer wake-ups, %d runs x 64 rounds per vCPU, TSC %d kHz\n' \
	"$runs" "$tsc_khz"
printf '%-6s %-18s | %10s %10s %8s | %14s\n' vCPUs clock "host p50" "host p90" samples \
	"guest p50 us"
for cpus in 1 4; do
	for key in vcpu thread kernel; do
		h=$tmp/host.$key.$cpus g=$tmp/guest.$key.$cpus
		touch "$h" "$g"
		name=$key
		[ "$key" = kernel ] && name="kernel irqchip"
		[ "$key" != kernel ] && name="user, $key"
		if [ -s "$h" ]; then
			hp50=$(awk -v v="$(pct "$h" 0.5)" 'BEGIN { printf "%.0f us", v / 1000 }')
			hp90=$(awk -v v="$(pct "$h" 0.9)" 'BEGIN { printf "%.0f us", v / 1000 }')
		else
			hp50=- hp90=-
		fi
		gp50=$(awk -v v="$(pct "$g" 0.5)" -v k="$tsc_khz" 'BEGIN { printf "%.0f", v * 1000 / k }')
		printf '%-6s %-18s | %10s %10s %8d | %14s\n' "$cpus" "$name" "$hp50" "$hp90" \
			"$(wc -l <"$h")" "$gp50"
	done
done
