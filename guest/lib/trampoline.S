/*
 * The AP start-up trampoline: 16-bit real-mode code that smp.c copies to
 * CVM_GUEST_TRAMPOLINE (0x8000, SIPI vector 0x08). An AP starts it at CS:IP =
 * 0x0800:0000, loads the kit's GDT, enters 32-bit protected mode and far-jumps
 * to kit_ap_entry32 in the image (entry.S), which continues to long mode.
 * Position independent: data is addressed relative to CS, no stack is used, so
 * all APs may run it at once.
 */
#include "guest/lib/layout.h"

	.section .rodata.trampoline, "a"
	.code16
	.globl kit_trampoline_start, kit_trampoline_end
kit_trampoline_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	tramp_gdt_ptr - kit_trampoline_start
	movl	%cr0, %eax
	orl	$KIT_CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$KIT_SEL_CODE32, $kit_ap_entry32

	.balign 8
tramp_gdt_ptr:
	.word KIT_GDT_LIMIT
	.long kit_gdt
kit_trampoline_end:

	.section .note.GNU-stack, "", @progbits
