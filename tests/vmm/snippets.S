/*
 * Hand-made guests for the KVM backend's own tests: a few instructions each,
 * assembled into the test binary as data and copied into guest RAM by the test.
 * Entry snippets run at 0x100000 in 32-bit flat protected mode (the loader's
 * entry state); the AP snippet runs at 0x8000 in real mode (SIPI vector 0x08).
 * Only absolute addresses and relative jumps: the code is position-dependent.
 * Test ports: 0xe8 = report a 32-bit value, 0xf4 = end with (V << 1) | 1.
 */
	.section .rodata
	.code32

#define SNIPPET(name) .globl name; name:
#define END(name) .globl name##_end; name##_end:

/* Ends through the exit port with 0x21. */
SNIPPET(snip_exit)
	mov $0x21, %eax
	out %eax, $0xf4
	hlt
END(snip_exit)

/* rep outsb of the 5 bytes the test put at 0x7000 to port 0x3f8, then rep insw of 3 words from 0xe9 to 0x7100. */
SNIPPET(snip_string_io)
	mov $0x7000, %esi
	mov $5, %ecx
	mov $0x3f8, %dx
	cld
	rep outsb
	mov $0x7100, %edi
	mov $3, %ecx
	mov $0xe9, %dx
	rep insw
	mov $0, %eax
	out %eax, $0xf4
	hlt
END(snip_string_io)

/*
 * BSP: software-enables its xAPIC, sends INIT then SIPI(0x08) twice to all but
 * itself, waits until the counter at 0x7000 equals the number at 0x7004, exits.
 */
SNIPPET(snip_smp_bsp)
	movl $0x1ff, 0xfee000f0
	movl $0x000c4500, 0xfee00300
	movl $0x000c4608, 0xfee00300
	movl $0x000c4608, 0xfee00300
1:	mov 0x7000, %eax
	cmp 0x7004, %eax
	jne 1b
	mov $0, %eax
	out %eax, $0xf4
	hlt
END(snip_smp_bsp)

	.code16
/* AP, real mode: reports CPUID.1 EBX[31:24] (its initial APIC ID) on port 0xe8, counts itself, halts. */
SNIPPET(snip_smp_ap)
	mov $1, %eax
	cpuid
	shr $24, %ebx
	mov %ebx, %eax
	out %eax, $0xe8
	lock incl 0x7000
2:	cli
	hlt
	jmp 2b
END(snip_smp_ap)
	.code32

/* Loads an empty IDT and executes ud2: #UD -> #DF -> triple fault. */
SNIPPET(snip_triple_fault)
	lidt 0x7100
	ud2
END(snip_triple_fault)

/* Spins forever (the test's timeout ends it). */
SNIPPET(snip_spin)
3:	jmp 3b
END(snip_spin)

/*
 * ucalls: two refused addresses (misaligned, outside RAM), then the structure the
 * test put at 0x7200 (REPORT), then the one at 0x7300 (DONE, ASSERT, ...).
 */
SNIPPET(snip_ucall)
	mov $0x7201, %eax
	out %eax, $0xe0
	mov $0xfffffff8, %eax
	out %eax, $0xe0
	mov $0x7200, %eax
	out %eax, $0xe0
	mov $0x7300, %eax
	out %eax, $0xe0
	mov $0x55, %eax
	out %eax, $0xf4
	hlt
END(snip_ucall)

/* MMIO to nothing: reads 0xd0000000 and reports it, writes it, then exits with 0. */
SNIPPET(snip_mmio)
	mov 0xd0000000, %eax
	out %eax, $0xe8
	movl $1, 0xd0000000
	mov $0, %eax
	out %eax, $0xf4
	hlt
END(snip_mmio)

	.section .note.GNU-stack, "", @progbits
