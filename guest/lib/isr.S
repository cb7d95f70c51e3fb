/*
 * Exception and interrupt entry stubs (vectors 0-31, the wake-up vector and the
 * spurious vector): each pushes a zero error code where the CPU pushes none,
 * then the vector, saves the general registers and calls
 * kit_exception(struct guest_exception_frame *) (trap.c). Returns with iretq,
 * so a handler may resume the interrupted code (after changing frame->rip).
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
	ISR 240, 0	/* KIT_WAKE_VECTOR: wake-up IPI for sleeping lock waiters */
	ISR 255, 0	/* KIT_SPURIOUS_VECTOR */

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
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad isr_\vec
	.endr
	.globl kit_isr_wake, kit_isr_spurious
kit_isr_wake:
	.quad isr_240
kit_isr_spurious:
	.quad isr_255

	.section .note.GNU-stack, "", @progbits
