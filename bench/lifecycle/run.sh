#!/usr/bin/env bash
# bench/lifecycle: vCPU lifecycle costs measured inside the guest with the TSC,
# corevm against QEMU `-M microvm,kernel_irqchip=on -accel kvm` (and, for the
# per-exit cost, against a bare KVM_RUN loop), all in the same run, alternating,
# RUNS times; prints the medians (of the guests' own medians) in microseconds
# and the ratios as a Markdown table (bench/README.md keeps one).
#   (a) SIPI to all APs running: cpu_cycle, broadcast INIT then one broadcast
#       SIPI; from the SIPI to the last AP's first instructions (4, 8, 64 vCPUs)
#   (b) one full re-INIT/SIPI cycle of all APs: from the INIT to the BSP seeing
#       every AP arrived (4, 8 vCPUs; same runs as (a))
#   (c) per exit: lcbench op=pio, OUT to an unclaimed port, corevm vs bare_kvm
#       (bench/lifecycle/bare_kvm.c) running the same image
#   (d) lcbench op=ipi (IPI round trip, 2 vCPUs) and op=timer (TSC-deadline
#       timer to the woken HLT), corevm user vs kernel (QEMU for reference)
# corevm runs in every irqchip mode it accepts among user and kernel; a mode it
# refuses gets "n/a". Guest ticks become microseconds with the TSC frequency
# KVM reports for a vCPU (KVM_GET_TSC_KHZ, through bare_kvm --tsc-khz), or the
# kernel's "tsc: Detected ... MHz" line when that fails.
# Targets (issue 4), not assertions: user <= 1.0x QEMU for (a) and (b); per
# exit <= 1.10x bare.
#
# usage: bench/lifecycle/run.sh [RUNS]     (default 5; BUILD=dir selects the build)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
build=${BUILD:-build}
corevm=$build/tools/corevm
guests=$build/guest
bare=$build/bench/lifecycle/bare_kvm

scripts/install-deps.sh bench
for f in "$corevm" "$bare" "$guests/cpu_cycle.elf" "$guests/cpu_cycle-pvh.elf" \
	"$guests/lcbench.elf" "$guests/lcbench-pvh.elf"; do
	[ -e "$f" ] || { echo "bench/lifecycle: $f missing (run 'make build' first)" >&2; exit 1; }
done
qemu=$(command -v qemu-system-x86_64) || { echo "bench/lifecycle: qemu-system-x86_64 not found" >&2; exit 1; }
[ -w /dev/kvm ] || { echo "bench/lifecycle: /dev/kvm is not usable here" >&2; exit 1; }

if khz=$("$bare" --tsc-khz 2>/dev/null) && [ "$khz" -gt 0 ]; then
	tsc_from="KVM_GET_TSC_KHZ"
else
	mhz=$(dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p' | head -1)
	[ -n "$mhz" ] || { echo "bench/lifecycle: cannot tell the TSC frequency" >&2; exit 1; }
	khz=$(awk -v m="$mhz" 'BEGIN { printf "%d", m * 1000 }')
	tsc_from="dmesg"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Which corevm modes run here: "kernel" always; "user" once --irqchip user exists.
modes=kernel
if "$corevm" run --irqchip user --timeout 30s --cmdline "op=pio n=16" \
	"$guests/lcbench.elf" >/dev/null 2>&1; then
	modes="user kernel"
fi

# record NAME OUTPUT-FILE KEY: appends KEY's value from the LCBENCH line to $tmp/NAME.
record() {
	local v
	v=$(tr -d '\r' <"$2" | sed -n "s/^LCBENCH .*\\b$3=\\([0-9]*\\).*/\\1/p" | head -1)
	if [ -z "$v" ]; then
		echo "bench/lifecycle: no $3 from $1 (not counted); output:" >&2
		tail -n 3 "$2" >&2
		return 0
	fi
	echo "$v" >>"$tmp/$1"
}

# cvm MODE CPUS CMDLINE IMAGE: one corevm run, stdout in $tmp/out (status 0 wanted).
cvm() {
	"$corevm" run --irqchip "$1" --cpus "$2" --mem 64M --timeout 120s --cmdline "$3" \
		"$guests/$4.elf" >"$tmp/out" 2>"$tmp/err" || {
		echo "bench/lifecycle: corevm $1 $4 '$3' on $2 vCPUs: status $?" >&2
		tail -n 2 "$tmp/err" >&2
	}
}

# qemu CPUS CMDLINE IMAGE: one QEMU run of the PVH image (status 1 = the guest's DONE).
qemu_run() {
	timeout 120 "$qemu" -M microvm,x-option-roms=off,rtc=off,kernel_irqchip=on \
		-cpu qemu64,+tsc-deadline -accel kvm -m 64M -smp "$1" -nodefaults \
		-no-user-config -display none -no-reboot -monitor none -serial stdio \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$guests/$3-pvh.elf" \
		-append "$2" >"$tmp/out" 2>"$tmp/err" || [ $? = 1 ] || {
		echo "bench/lifecycle: QEMU $3 '$2' on $1 vCPUs failed" >&2
		tail -n 2 "$tmp/err" >&2
	}
}

cycle_args() { # cycles for a vCPU count
	echo "cycles=$([ "$1" -ge 64 ] && echo 50 || echo 200) sipi=single dest=all report=0 bench"
}

for ((r = 0; r < runs; r++)); do
	for cpus in 4 8 64; do
		for m in $modes; do
			cvm "$m" "$cpus" "$(cycle_args "$cpus")" cpu_cycle
			record "sipi.$m.$cpus" "$tmp/out" sipi_to_all
			record "cycle.$m.$cpus" "$tmp/out" reinit
		done
		qemu_run "$cpus" "$(cycle_args "$cpus")" cpu_cycle
		record "sipi.qemu.$cpus" "$tmp/out" sipi_to_all
		record "cycle.qemu.$cpus" "$tmp/out" reinit
	done
	for m in $modes; do
		cvm "$m" 1 "op=pio n=4000" lcbench
		record "pio.$m" "$tmp/out" median
	done
	"$bare" --cmdline "op=pio n=4000" "$guests/lcbench.elf" >"$tmp/out" 2>"$tmp/err" || true
	record pio.bare "$tmp/out" median
	for op in ipi timer; do
		cpus=$([ $op = ipi ] && echo 2 || echo 1)
		for m in $modes; do
			cvm "$m" "$cpus" "op=$op n=200" lcbench
			record "$op.$m" "$tmp/out" median
		done
		qemu_run "$cpus" "op=$op n=200" lcbench
		record "$op.qemu" "$tmp/out" median
	done
done

# us NAME: the median of $tmp/NAME in microseconds, "n/a" without samples.
us() {
	[ -s "$tmp/$1" ] || { echo n/a; return; }
	sort -n "$tmp/$1" | awk -v khz="$khz" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f", m * 1000 / khz }'
}

ratio() { # a b: a / b, or "-"
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "n/a" || b == "n/a" || b == 0) print "-"; else printf "%.2fx", a / b }'
}

count() { [ -s "$tmp/$1" ] && wc -l <"$tmp/$1" || echo 0; }

printf '\nbench/lifecycle: medians of %d alternating runs, microseconds (TSC %s kHz from %s)\n\n' \
	"$runs" "$khz" "$tsc_from"
echo "| measurement | vCPUs | corevm user | corevm kernel | peer | peer is | user/peer | kernel/peer | target |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row() { # label cpus user kernel peer peer-name target
	printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$5" "$6" \
		"$(ratio "$3" "$5")" "$(ratio "$4" "$5")" "$7"
}
for cpus in 4 8 64; do
	row "(a) SIPI to all APs running" "$cpus" "$(us "sipi.user.$cpus")" "$(us "sipi.kernel.$cpus")" \
		"$(us "sipi.qemu.$cpus")" "QEMU microvm" "user <= 1.0x"
done
for cpus in 4 8; do
	row "(b) re-INIT/SIPI cycle, all APs" "$cpus" "$(us "cycle.user.$cpus")" \
		"$(us "cycle.kernel.$cpus")" "$(us "cycle.qemu.$cpus")" "QEMU microvm" "user <= 1.0x"
done
row "(c) one exit: OUT to a port" 1 "$(us pio.user)" "$(us pio.kernel)" "$(us pio.bare)" \
	"bare KVM_RUN loop" "<= 1.10x"
row "(d) IPI round trip" 2 "$(us ipi.user)" "$(us ipi.kernel)" "$(us ipi.qemu)" "QEMU microvm" \
	"user vs kernel: $(ratio "$(us ipi.user)" "$(us ipi.kernel)")"
row "(d) timer deadline to woken HLT" 1 "$(us timer.user)" "$(us timer.kernel)" \
	"$(us timer.qemu)" "QEMU microvm" "user vs kernel: $(ratio "$(us timer.user)" "$(us timer.kernel)")"
printf '\nsamples per cell (runs counted): '
for f in sipi.kernel.4 sipi.qemu.4 sipi.kernel.64 sipi.qemu.64 pio.kernel pio.bare ipi.kernel \
	timer.kernel; do
	printf '%s=%s ' "$f" "$(count "$f")"
done
echo
[ "$modes" = kernel ] && echo "corevm refused --irqchip user: its columns are n/a"
exit 0
