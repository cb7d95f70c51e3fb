/*
 * Guest entry: multiboot v1 header and PVH note, the 32-bit entry points, the
 * switch to 64-bit long mode shared by the BSP and the APs, the GDT and the
 * static page tables (first 4 GiB identity-mapped with 2 MiB pages).
 */
#include "guest/lib/layout.h"

/* ---- multiboot v1 header: first in the image, so within the first 8 KiB ---- */
	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long KIT_MULTIBOOT_HEADER_MAGIC
	.long KIT_MULTIBOOT_HEADER_FLAGS
	.long -(KIT_MULTIBOOT_HEADER_MAGIC + KIT_MULTIBOOT_HEADER_FLAGS)

/* ---- PVH: ELF note "Xen", type XEN_ELFNOTE_PHYS32_ENTRY, 32-bit entry address ---- */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4                        /* namesz: "Xen\0" */
	.long 4                        /* descsz */
	.long KIT_XEN_ELFNOTE_PHYS32   /* type */
	.asciz "Xen"
	.balign 4
	.long _start_pvh

/* ---- 32-bit entries: flat protected mode, paging off, interrupts off ---- */
	.section .text.entry, "ax"
	.code32
	.globl _start
_start:					/* multiboot: EAX = 0x2BADB002, EBX = info */
	cli
	movl	%eax, kit_boot_eax
	movl	%ebx, kit_boot_ebx
	movl	$KIT_ENTRY_MULTIBOOT, kit_boot_entry
	jmp	bsp_common32

	.globl _start_pvh
_start_pvh:				/* PVH: EBX = hvm_start_info */
	cli
	movl	%eax, kit_boot_eax
	movl	%ebx, kit_boot_ebx
	movl	$KIT_ENTRY_PVH, kit_boot_entry

bsp_common32:
	lgdt	kit_gdt_ptr
	ljmp	$KIT_SEL_CODE32, $1f
1:	movl	$bsp_entry64, %esi
	/* fall through */

/*
 * enter_long: from 32-bit flat protected mode (CS = KIT_SEL_CODE32, our GDT
 * loaded) to 64-bit mode; then jumps to the 64-bit address in ESI. Uses no
 * stack, so the BSP and any number of APs may run it at the same time.
 */
	.globl kit_enter_long
kit_enter_long:
	movw	$KIT_SEL_DATA, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	%cr4, %eax
	orl	$KIT_CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$kit_pml4, %eax
	movl	%eax, %cr3
	movl	$KIT_MSR_EFER, %ecx
	rdmsr
	orl	$KIT_EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	andl	$~(KIT_CR0_CD | KIT_CR0_NW), %eax	/* an AP leaves INIT with caches off */
	orl	$(KIT_CR0_PG | KIT_CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$KIT_SEL_CODE64, $long64

	.code64
long64:
	movl	%esi, %esi		/* upper halves are undefined after compatibility mode */
	jmp	*%rsi

bsp_entry64:
	movq	$kit_bsp_stack_top, %rsp
	xorl	%ebp, %ebp
	call	kit_bsp_main		/* never returns */
	jmp	kit_halt_forever

/*
 * AP path: the real-mode trampoline (trampoline.S) far-jumps here in 32-bit mode.
 * Each AP takes an index with lock xadd and uses the stack of that index.
 */
	.code32
	.globl kit_ap_entry32
kit_ap_entry32:
	movl	$ap_entry64, %esi
	jmp	kit_enter_long

	.code64
ap_entry64:
	movl	$1, %eax
	lock xaddl %eax, kit_ap_counter(%rip)
	cmpl	$KIT_MAX_APS, %eax
	jae	ap_no_stack
	movl	%eax, %edi			/* argument: the AP index */
	leal	1(%rax), %eax
	shlq	$KIT_AP_STACK_SHIFT, %rax
	leaq	kit_ap_stacks(%rip), %rsp
	addq	%rax, %rsp
	xorl	%ebp, %ebp
	call	kit_ap_main		/* never returns */
	jmp	kit_halt_forever
ap_no_stack:				/* more APs than stacks: count it and park */
	movl	$1, %eax
	lock xaddl %eax, kit_ap_overflow(%rip)
	/* fall through */

	.globl kit_halt_forever
kit_halt_forever:
	cli
1:	hlt
	jmp	1b

/* ---- data ---- */
	.section .data
	.balign 8
	.globl kit_boot_eax, kit_boot_ebx, kit_boot_entry, kit_ap_counter, kit_ap_overflow
kit_boot_eax:		.long 0
kit_boot_ebx:		.long 0
kit_boot_entry:		.long 0
kit_ap_counter:		.long 0
kit_ap_overflow:	.long 0

/* Flat GDT: null, 32-bit code, data, 64-bit code. */
	.balign 16
	.globl kit_gdt, kit_gdt_end
kit_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* KIT_SEL_CODE32: base 0, limit 4 GiB, 32-bit */
	.quad 0x00cf92000000ffff	/* KIT_SEL_DATA */
	.quad 0x00af9a000000ffff	/* KIT_SEL_CODE64: L=1 */
kit_gdt_end:
	.if (kit_gdt_end - kit_gdt - 1) != KIT_GDT_LIMIT
	.error "KIT_GDT_LIMIT does not match the GDT"
	.endif
	.balign 8
	.globl kit_gdt_ptr
kit_gdt_ptr:
	.word KIT_GDT_LIMIT
	.long kit_gdt

/*
 * Page tables, fixed at build time: PML4[0] -> PDPT[0..3] -> four page
 * directories of 512 2 MiB pages each, identity-mapping [0, 4 GiB). The pages
 * holding the I/O APIC (0xfec00000) and the local APIC (0xfee00000) are
 * uncached (PCD|PWT).
 */
	.balign 4096
	.globl kit_pml4
kit_pml4:
	.quad kit_pdpt + (KIT_PTE_P | KIT_PTE_RW)
	.fill 511, 8, 0
kit_pdpt:
	.quad kit_pd + 0 * 4096 + (KIT_PTE_P | KIT_PTE_RW)
	.quad kit_pd + 1 * 4096 + (KIT_PTE_P | KIT_PTE_RW)
	.quad kit_pd + 2 * 4096 + (KIT_PTE_P | KIT_PTE_RW)
	.quad kit_pd + 3 * 4096 + (KIT_PTE_P | KIT_PTE_RW)
	.fill 508, 8, 0
kit_pd:
	.set pde, 0
	.rept 2048
	.if (pde == KIT_IOAPIC_2M) || (pde == KIT_LAPIC_2M)
	.quad (pde << KIT_PD_SHIFT) | (KIT_PTE_P | KIT_PTE_RW | KIT_PTE_PS | KIT_PTE_PWT | KIT_PTE_PCD)
	.else
	.quad (pde << KIT_PD_SHIFT) | (KIT_PTE_P | KIT_PTE_RW | KIT_PTE_PS)
	.endif
	.set pde, pde + 1
	.endr

/* ---- stacks (not part of the file image: .bss) ---- */
	.section .bss
	.balign 4096
	.globl kit_ap_stacks
kit_bsp_stack:
	.skip KIT_BSP_STACK_SIZE
kit_bsp_stack_top:
kit_ap_stacks:
	.skip KIT_MAX_APS * KIT_AP_STACK_SIZE

	.section .note.GNU-stack, "", @progbits
