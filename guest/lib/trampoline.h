/*
 * The AP start-up trampoline as an assembler macro (assembly only): 16-bit
 * real-mode code that an AP runs at its SIPI vector's page; it loads the kit's
 * GDT, enters 32-bit protected mode and far-jumps to `target` in the image.
 * Position independent: data is addressed relative to CS, no stack is used,
 * so all APs may run it at once. trampoline.S (the kit's path to long mode)
 * and measured.S (the measured entry reached by SIPI) each emit one.
 */
#ifndef GUEST_LIB_TRAMPOLINE_H
#define GUEST_LIB_TRAMPOLINE_H

#ifdef __ASSEMBLER__
#include "guest/lib/layout.h"

/* Emits NAME_start .. NAME_end in .rodata.trampoline; copy it to a SIPI page to use it. */
.macro KIT_TRAMPOLINE name, target
	.section .rodata.trampoline, "a"
	.code16
	.globl \name\()_start, \name\()_end
\name\()_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	\name\()_gdt_ptr - \name\()_start
	movl	%cr0, %eax
	orl	$KIT_CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$KIT_SEL_CODE32, $\target

	.balign 8
\name\()_gdt_ptr:
	.word KIT_GDT_LIMIT
	.long kit_gdt
\name\()_end:
.endm
#endif

#endif
