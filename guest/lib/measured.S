/*
 * The measured AP entry of the guest kit (docs/protected-state.md): the
 * corevm AP initial-state note that declares it, the entry itself (64-bit
 * long mode, RSP = this vCPU's stack, RDI = its index), the same entry
 * reached through a SIPI (a trampoline and a 32-bit path that rebuild that
 * state, for runs without --protected-state), and the AP reset hold with a
 * register check whose canary never leaves the registers before the wake.
 */
#include "guest/lib/layout.h"
#include "guest/lib/trampoline.inc"

#define NOTE_AP_INIT   0x41500001 /* CVM_NOTE_AP_INIT, arch/x86/guest_abi.h */
#define AP_MODE_LONG64 2
#define MSR_GHCB       0xC0010130
#define GHCB_HOLD_REQ  0x006

/* ---- the note: name "corevm", struct cvm_ap_init_note (64 bytes) ---- */
	.section .note.corevm, "a", @note
	.balign 4
	.globl kit_ap_init_note
kit_ap_init_note:
	.long 7                         /* namesz: "corevm\0" */
	.long 64                        /* descsz */
	.long NOTE_AP_INIT
	.asciz "corevm"
	.balign 4
	.long 1                         /* version */
	.long AP_MODE_LONG64            /* mode */
	.quad kit_ap_measured_entry     /* entry */
	.quad kit_ap_stacks + KIT_AP_STACK_SIZE  /* stack top of vCPU 1 */
	.quad KIT_AP_STACK_SIZE         /* stride */
	.long KIT_MAX_APS               /* vCPUs 1..255 */
	.long 0                         /* flags */
	.quad kit_pml4                  /* cr3 */
	.quad kit_gdt                   /* gdt base */
	.word KIT_GDT_LIMIT
	.word KIT_SEL_CODE64
	.word KIT_SEL_DATA
	.word 0

/* ---- the measured entry: long mode, RSP = stack of vCPU RDI, interrupts off ---- */
	.section .text, "ax"
	.code64
	.globl kit_ap_measured_entry
kit_ap_measured_entry:
	xorl	%ebp, %ebp
	call	kit_ap_measured_main	/* (vcpu index in RDI) never returns */
	jmp	kit_halt_forever

/*
 * The same state reached by a SIPI to KIT_MEASURED_SIPI_VECTOR: the
 * trampoline enters 32-bit mode, kit_enter_long (entry.S) long mode; then
 * the index is the initial APIC ID (CPUID.1:EBX[31:24], corevm's vCPU index)
 * and the stack is that index's, as the note says.
 */
	KIT_TRAMPOLINE kit_trampoline_measured, kit_ap_measured_entry32

	.section .text, "ax"
	.code32
	.globl kit_ap_measured_entry32
kit_ap_measured_entry32:
	movl	$measured_from_sipi64, %esi
	jmp	kit_enter_long

	.code64
measured_from_sipi64:
	movl	$1, %eax
	cpuid
	shrl	$24, %ebx		/* initial APIC ID */
	movl	%ebx, %edi
	testl	%edi, %edi
	jz	kit_halt_forever	/* the BSP never comes this way */
	cmpl	$KIT_MAX_APS, %edi
	ja	kit_halt_forever	/* no stack for it */
	movl	%edi, %eax
	shlq	$KIT_AP_STACK_SHIFT, %rax
	leaq	kit_ap_stacks(%rip), %rsp
	addq	%rax, %rsp
	jmp	kit_ap_measured_entry

/*
 * void kit_hold_checked(struct kit_hold_regs *out)
 *
 * Makes a canary from RDRAND and the TSC, fills every general-purpose
 * register with a different function of it (RSP: r14 = RSP ^ canary; RCX:
 * the canary's low half above the MSR number), requests the AP reset hold
 * (WRMSR 0xC0010130 <- 0x006) and, once woken, reads the response (RDMSR).
 * Only then does anything go to memory: all 16 registers as they are after
 * the RDMSR, for hold.c to check. The canary exists only in registers while
 * the AP is held, so the host cannot know it.
 */
	.globl kit_hold_checked
kit_hold_checked:
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	%rdi			/* out */
	movl	$16, %ecx
1:	rdrand	%rbx
	jc	2f
	loop	1b
2:	rdtsc
	shlq	$32, %rdx
	orq	%rdx, %rax
	xorq	%rax, %rbx		/* rbx = canary */
	movq	%rbx, %rbp
	notq	%rbp
	movq	%rbx, %rsi
	rolq	$7, %rsi
	movq	%rbx, %rdi
	rolq	$13, %rdi
	movq	%rbx, %r8
	rolq	$19, %r8
	movq	%rbx, %r9
	rolq	$23, %r9
	movq	%rbx, %r10
	rolq	$29, %r10
	movq	%rbx, %r11
	rolq	$31, %r11
	movq	%rbx, %r12
	rolq	$37, %r12
	movq	%rbx, %r13
	rolq	$41, %r13
	movq	%rbx, %r15
	rolq	$47, %r15
	movq	%rsp, %r14
	xorq	%rbx, %r14
	movq	%rbx, %rcx
	shlq	$32, %rcx
	movl	$MSR_GHCB, %eax
	orq	%rax, %rcx
	movl	$GHCB_HOLD_REQ, %eax
	xorl	%edx, %edx
	wrmsr				/* the hold: the host parks this vCPU here */
	rdmsr				/* the response */
	pushq	%rsp			/* the value before this push */
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	128(%rsp), %rdi		/* out */
	movq	%rsp, %rsi
	movl	$16, %ecx
	rep movsq
	addq	$136, %rsp		/* the 16 registers and out */
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

	.section .note.GNU-stack, "", @progbits
