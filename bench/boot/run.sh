#!/usr/bin/env bash
# bench/boot: boots the demo guest under corevm and under QEMU `-M microvm -accel kvm`,
# alternating, at 1, 4 and 8 vCPUs with 256 MiB, RUNS times each, and prints the
# medians and corevm/QEMU ratios of start-to-exit wall time and peak RSS.
# Targets (issue 2): time ratio <= 0.5; corevm peak RSS <= 8 MiB at 4 vCPUs.
#
# usage: bench/boot/run.sh [RUNS]      (default 11; BUILD=dir selects the build, default build)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-11}
build=${BUILD:-build}
corevm=$build/tools/corevm
image=$build/guest/demo.elf
runner=$build/bench/boot/cvm-bench-run
mem=256M

scripts/install-deps.sh bench
for f in "$corevm" "$image" "$runner"; do
	[ -e "$f" ] || { echo "bench/boot: $f missing (run 'make build' first)" >&2; exit 1; }
done
qemu=$(command -v qemu-system-x86_64) || { echo "bench/boot: qemu-system-x86_64 not found" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "bench/boot: /dev/kvm is not usable here" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One measured run: "wall_ns maxrss_kib status"; a run that does not end with the
# demo's status (1: debug-exit value 0) is reported and not counted.
measure() { # name cpus command...
	local name=$1 cpus=$2 line st
	shift 2
	line=$("$runner" -o "$tmp/out" -- "$@")
	st=${line##* }
	if [ "$st" != 1 ]; then
		echo "bench/boot: $name at $cpus vCPUs exited with status $st (not counted); output:" >&2
		tail -n 5 "$tmp/out" >&2
		return 0
	fi
	echo "${line% *}" >>"$tmp/$name.$cpus"
}

median() { # file column
	sort -n -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c } END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for cpus in 1 4 8; do
	for ((i = 0; i < runs; i++)); do
		measure corevm "$cpus" "$corevm" run --cpus "$cpus" --mem "$mem" --timeout 60s "$image"
		measure qemu "$cpus" timeout 60 "$qemu" -M microvm -accel kvm -smp "$cpus" \
			-m "$mem" -nodefaults -no-user-config -nographic -no-reboot \
			-serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$image"
	done
done

printf '\nbench/boot: demo guest, %s guest RAM, medians of %d alternating runs\n' "$mem" "$runs"
printf '%-5s | %12s %12s %7s | %12s %12s %7s | %s\n' vCPUs "corevm ms" "QEMU ms" ratio \
	"corevm MiB" "QEMU MiB" ratio "runs counted (corevm/QEMU)"
for cpus in 1 4 8; do
	c=$tmp/corevm.$cpus q=$tmp/qemu.$cpus
	touch "$c" "$q"
	ct=$(median "$c" 1) qt=$(median "$q" 1) cr=$(median "$c" 2) qr=$(median "$q" 2)
	awk -v n="$cpus" -v ct="$ct" -v qt="$qt" -v cr="$cr" -v qr="$qr" \
		-v nc="$(wc -l <"$c")" -v nq="$(wc -l <"$q")" 'BEGIN {
		r1 = (qt > 0 && ct != "nan" && qt != "nan") ? sprintf("%.2f", ct / qt) : "-"
		r2 = (qr > 0 && cr != "nan" && qr != "nan") ? sprintf("%.2f", cr / qr) : "-"
		printf "%-5s | %12.1f %12.1f %7s | %12.1f %12.1f %7s | %d/%d\n",
			n, ct / 1e6, qt / 1e6, r1, cr / 1024, qr / 1024, r2, nc, nq }'
done
echo "targets: start-to-exit ratio <= 0.50; corevm peak RSS <= 8 MiB at 4 vCPUs"
