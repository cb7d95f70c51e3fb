#!/bin/sh
# Builds freestanding test guests with the host gcc, independent of Meson's C
# flags (so that sanitizer or coverage builds never leak into guests).
#
#   build-guest.sh lib OUT.a DEPFILE SRCROOT CC AR SOURCE...
#   build-guest.sh elf OUT.elf OUT-pvh.elf DEPFILE SRCROOT CC LD OBJCOPY OBJDUMP LDSCRIPT LIB.a SOURCE...
#
# lib compiles the kit into an archive; elf compiles one guest's sources, links
# them with the kit at 1 MiB (elf_x86_64) and converts the result to ELF32
# (elf32-i386), the form QEMU's multiboot loader and corevm accept. OUT.elf
# carries both the multiboot header and the PVH note; OUT-pvh.elf is the same
# image with the multiboot header zeroed, because QEMU prefers multiboot when
# both are present and would otherwise never exercise its PVH path. DEPFILE
# lists every header the outputs depend on, for ninja.
set -eu

CFLAGS="-std=gnu11 -O2 -g0 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
 -Wmissing-prototypes -Wundef -Wvla -Wno-unused-parameter
 -ffreestanding -fno-builtin -nostdlib -fno-stack-protector -fno-pic -fno-pie
 -mcmodel=small -mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -mno-80387
 -fcf-protection=none -fno-asynchronous-unwind-tables -fno-unwind-tables
 -fno-tree-loop-distribute-patterns -fno-common"

mode=$1 out=$2
shift 2
if [ "$mode" = elf ]; then
	out_pvh=$1
	shift
fi
depfile=$1 srcroot=$(cd "$2" && pwd)
shift 2

compile() { # compile OBJDIR SOURCE...
	objdir=$1
	shift
	mkdir -p "$objdir"
	: >"$objdir/deps"
	for src in "$@"; do
		abs=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")
		obj=$objdir/$(basename "$src").o
		# -fmacro-prefix-map: __FILE__ reads "guest/smp.c" in ucall reports.
		$CC $CFLAGS -I"$srcroot" -fmacro-prefix-map="$srcroot/"= \
			-MD -MF "$obj.d" -MT "$out" -c "$abs" -o "$obj"
		cat "$obj.d" >>"$objdir/deps"
	done
}

case $mode in
lib)
	CC=$1 AR=$2
	shift 2
	objdir=$out.p
	rm -rf "$objdir"
	compile "$objdir" "$@"
	rm -f "$out"
	$AR rcsD "$out" "$objdir"/*.o
	;;
elf)
	CC=$1 LD=$2 OBJCOPY=$3 OBJDUMP=$4 ldscript=$5 lib=$6
	shift 6
	objdir=$out.p
	rm -rf "$objdir"
	compile "$objdir" "$@"
	$LD -m elf_x86_64 -static -nostdlib --build-id=none --fatal-warnings -z noexecstack \
		-z max-page-size=4096 -T "$ldscript" -o "$out.64" "$objdir"/*.o "$lib"
	# Refuse instructions that kill or hang a guest on this project's KVM
	# (../shared/reference/host-kvm.md), whatever the compiler chose to emit.
	bad=$($OBJDUMP -d --no-show-raw-insn "$out.64" | grep -E -i \
		'\s(int3|int|into|popcnt|tzcnt|lzcnt|rdtscp|rdpid|movbe|xsave\w*|xrstor\w*|xgetbv|clac|stac|monitor|mwait|vmcall|vmmcall|syscall|cmpxchg16b|endbr64|endbr32)(\s|$)|\s(f[a-z]+)\s+%st|%[xyz]mm|%mm[0-7]' || true)
	if [ -n "$bad" ]; then
		echo "build-guest.sh: $out uses instructions this KVM cannot run:" >&2
		echo "$bad" >&2
		exit 1
	fi
	$OBJCOPY -O elf32-i386 "$out.64" "$out"
	$OBJCOPY -O binary --only-section=.multiboot "$out" "$objdir/mb.bin"
	head -c "$(wc -c <"$objdir/mb.bin")" /dev/zero >"$objdir/mb0.bin"
	$OBJCOPY --update-section .multiboot="$objdir/mb0.bin" "$out" "$out_pvh"
	;;
*)
	echo "build-guest.sh: unknown mode '$mode'" >&2
	exit 2
	;;
esac
mv "$objdir/deps" "$depfile"
