/*
 * The real-mode SIPI stub (see rmstub.h), copied to the page of a SIPI vector:
 * the AP starts it at CS:IP = vector << 8 : 0, so CS addresses the page and the
 * data block at KIT_RMSTUB_DATA. No stack, no data segment: many APs may run it
 * at once.
 */
#include "guest/lib/rmstub.h"

#define D(off) (KIT_RMSTUB_DATA + (off))

	.section .rodata.rmstub, "a"
	.code16
	.globl kit_rmstub_start, kit_rmstub_end
kit_rmstub_start:
	cli
	movl	$1, %eax
	xorl	%ecx, %ecx
	cpuid				/* EBX[31:24]: initial APIC ID */
	shrl	$24, %ebx
	rdtsc
	movw	%bx, %si
	shlw	$3, %si
	movl	%eax, %cs:D(KIT_RMSTUB_TSC)(%si)
	movl	%edx, %cs:D(KIT_RMSTUB_TSC + 4)(%si)
	movl	%cs:D(KIT_RMSTUB_CYCLE), %eax
	shlw	$2, %bx
	movl	%eax, %cs:D(KIT_RMSTUB_SEEN)(%bx)
	movl	%cs:D(KIT_RMSTUB_UCALL), %eax
	testl	%eax, %eax
	jz	1f
	outl	%eax, $KIT_RMSTUB_UCALL_PORT
1:	lock incl %cs:D(KIT_RMSTUB_ARRIVED)
	cmpl	$0, %cs:D(KIT_RMSTUB_SPIN)
	jne	3f
2:	hlt
	jmp	2b
3:	pause
	jmp	3b
kit_rmstub_end:

	.section .note.GNU-stack, "", @progbits
