/*
 * Exception and interrupt entry stubs for all 256 vectors: each pushes a zero
 * error code where the CPU pushes none, then the vector, saves the general
 * registers and calls kit_exception(struct guest_exception_frame *) (trap.c).
 * Returns with iretq, so a handler may resume the interrupted code (after
 * changing frame->rip); for NMI (vector 2) the iretq is what unblocks NMIs.
 */
	.section .text
	.code64

	.macro ISR vec, has_error
	.balign 16
isr_\vec:
	.if \has_error == 0
	pushq	$0
	.endif
	pushq	$\vec
	jmp	isr_common
	.endm

/* Vectors whose exceptions push an error code: 8, 10-14, 17, 21, 29, 30. */
	ISR 0, 0
	ISR 1, 0
	ISR 2, 0
	ISR 3, 0
	ISR 4, 0
	ISR 5, 0
	ISR 6, 0
	ISR 7, 0
	ISR 8, 1
	ISR 9, 0
	ISR 10, 1
	ISR 11, 1
	ISR 12, 1
	ISR 13, 1
	ISR 14, 1
	ISR 15, 0
	ISR 16, 0
	ISR 17, 1
	ISR 18, 0
	ISR 19, 0
	ISR 20, 0
	ISR 21, 1
	ISR 22, 0
	ISR 23, 0
	ISR 24, 0
	ISR 25, 0
	ISR 26, 0
	ISR 27, 0
	ISR 28, 0
	ISR 29, 1
	ISR 30, 1
	ISR 31, 0
/* External interrupts and IPIs (32-255), among them KIT_WAKE_VECTOR and KIT_SPURIOUS_VECTOR. */
	.altmacro
	.set vec, 32
	.rept 224
	ISR %vec, 0
	.set vec, vec + 1
	.endr
	.noaltmacro

/* Layout must match struct guest_exception_frame (trap.h). */
isr_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	cld
	call	kit_exception
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector and error code */
	iretq

/* Stub addresses, indexed by vector, for the IDT built in trap.c. */
	.section .rodata
	.balign 8
	.globl kit_isr_table
kit_isr_table:
	.altmacro
	.macro ISR_ADDR v
	.quad isr_\v
	.endm
	.set vec, 0
	.rept 256
	ISR_ADDR %vec
	.set vec, vec + 1
	.endr
	.noaltmacro

	.section .note.GNU-stack, "", @progbits
