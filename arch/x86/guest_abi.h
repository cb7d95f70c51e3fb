/*
 * corevm's contract with its guests: the I/O ports, the ucall report format, the
 * guest-physical memory layout and the process exit statuses. Included by both
 * the freestanding guest kit (guest/) and the host side, so it uses only
 * fixed-width types and no libc beyond <stdint.h>.
 */
#ifndef COREVM_ARCH_X86_GUEST_ABI_H
#define COREVM_ARCH_X86_GUEST_ABI_H

#include <stdint.h>

/* ---- I/O ports (all on the legacy port bus) ---- */
#define CVM_PORT_UART0       0x3f8 /* 16550A, 8 registers, IRQ 4 */
#define CVM_PORT_DEBUG_EXIT  0xf4  /* QEMU isa-debug-exit, iosize 4 */
#define CVM_PORT_FW_CFG_SEL  0x510 /* fw_cfg selector (16-bit, little endian) */
#define CVM_PORT_FW_CFG_DATA 0x511 /* fw_cfg data (8-bit) */
#define CVM_PORT_I8042_DATA  0x60
#define CVM_PORT_I8042_CMD   0x64 /* write 0xFE: pulse reset line */
#define CVM_PORT_UCALL       0xe0 /* 32-bit OUT of a ucall's guest-physical address */
#define CVM_PORT_CALIB       0xe4 /* corevm calibrate's guest: 8-bit OUT of its phase (below) */

/* ---- ucall: a guest's structured report to the host (KVM selftests style) ----
 * The guest fills a struct cvm_ucall in its memory and writes its guest-physical
 * address (8-byte aligned, wholly inside RAM) with a 32-bit OUT to CVM_PORT_UCALL.
 * The host copies the structure out and validates every field; strings need not
 * be NUL-terminated (the host bounds them). Other ucall addresses are refused
 * and counted, never followed. */
enum cvm_ucall_cmd {
	CVM_UCALL_REPORT = 1, /* args[0] = stage, args[1..3] = values; recorded per vCPU */
	CVM_UCALL_ASSERT = 2, /* assertion failed at file:line, msg, args[0..1] = values */
	CVM_UCALL_DONE = 3,   /* the test passed: the VM ends with CVM_EXIT_OK */
	CVM_UCALL_PRINT = 4,  /* msg printed by the host on stderr (debugging aid) */
};

#define CVM_UCALL_FILE_LEN 64
#define CVM_UCALL_MSG_LEN  128

struct cvm_ucall {
	uint32_t cmd;
	uint32_t line;
	uint64_t args[4];
	char file[CVM_UCALL_FILE_LEN];
	char msg[CVM_UCALL_MSG_LEN];
};

/* Phases of `corevm calibrate`'s guest (guest/calib.c), each marked by an 8-bit OUT of
 * the phase to CVM_PORT_CALIB, which no device claims (vmm/calibrate.h times them). */
enum cvm_calib_phase {
	CVM_CALIB_OFF = 0,
	CVM_CALIB_EXITS = 1, /* OUTs of 1 back to back: the exit round trip */
	CVM_CALIB_KICKS = 2, /* IPIs to a spinning AP: the kick */
	CVM_CALIB_WAKES = 3, /* IPIs to a halted AP: the wake-up */
};

/* Stages the bundled guests report with CVM_UCALL_REPORT (args[0]). */
#define CVM_STAGE_AP_ONLINE 1   /* args[1] = APIC ID read by the AP, args[2] = AP index */
#define CVM_STAGE_BOOT_INFO 2   /* args[1..3]: guest-defined summary of boot info seen */
#define CVM_STAGE_USER      100 /* first stage number free for individual tests */

/* ---- guest-physical memory layout ----
 * RAM starts at 0. Below 1 MiB: [0, 0x9fc00) usable, the rest reserved (legacy
 * VGA/BIOS hole). RAM above 3 GiB is moved to 4 GiB and up, leaving a hole for
 * the I/O APIC (0xfec00000) and the local APIC (0xfee00000).
 * [CVM_GUEST_TRAMPOLINE, +CVM_GUEST_TRAMPOLINE_SIZE) is reserved to the guest for
 * AP start-up code (SIPI vector 0x08); loaders never place anything there.
 * Loaders put boot information (multiboot info, PVH start info, command line,
 * module list, memory map) in [CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END). */
#define CVM_GUEST_TRAMPOLINE      0x8000u
#define CVM_GUEST_TRAMPOLINE_SIZE 0x8000u
#define CVM_GUEST_BOOTINFO        0x10000u
#define CVM_GUEST_BOOTINFO_END    0x9f000u
#define CVM_GUEST_LOWMEM_END      0x9fc00u
#define CVM_GUEST_HIGHMEM_START   0x100000u
#define CVM_GUEST_MMIO_HOLE_START 0xc0000000u
#define CVM_GUEST_MMIO_HOLE_END   0x100000000ull
#define CVM_GUEST_IOAPIC_BASE     0xfec00000u
#define CVM_GUEST_LAPIC_BASE      0xfee00000u

/* ---- the AP initial-state note (docs/protected-state.md) ----
 * An image declares the register state its APs start from with an ELF note
 * (in a PT_NOTE segment) named CVM_NOTE_NAME, type CVM_NOTE_AP_INIT, whose
 * descriptor is exactly one struct cvm_ap_init_note (64 bytes, little endian,
 * 4-byte aligned in the file). Under `corevm run --protected-state` corevm
 * loads this state into every AP once, before launch (the "measured" state),
 * and the AP's first INIT-SIPI-SIPI runs it, whatever the SIPI vector.
 * At entry: RIP = entry, RSP = stack_top + (i - 1) * stack_stride for vCPU i
 * (1 <= i <= nr_stacks), RDI = i (the initial APIC ID), every other
 * general-purpose register 0, RFLAGS = 0x2 (interrupts off), GDTR as given,
 * IDTR base 0 limit 0 (load an IDT before anything can fault), CS =
 * code_sel and DS/ES/FS/GS/SS = data_sel with flat 4 GiB descriptors cached
 * for the mode:
 *   CVM_AP_MODE_PROT32: 32-bit protected mode, paging off (CR0 = PE|ET,
 *     CR3 = CR4 = EFER = 0); cr3 must be 0.
 *   CVM_AP_MODE_LONG64: 64-bit mode (CR0 = PE|ET|PG, CR4 = PAE, EFER =
 *     LME|LMA, CR3 = cr3), 4-level paging. Version 1 requires the entry, the
 *     stacks and the GDT to be identity-mapped by those page tables.
 * Every address is guest-physical: the entry inside a loaded segment, the
 * stacks, the GDT and the page-table root (4 KiB aligned) inside guest RAM.
 * flags and reserved are 0; selectors have TI = RPL = 0 and are not null. */
#define CVM_NOTE_NAME       "corevm"
#define CVM_NOTE_AP_INIT    0x41500001u /* "AP" 1 */
#define CVM_AP_INIT_VERSION 1u
#define CVM_AP_MODE_PROT32  1u
#define CVM_AP_MODE_LONG64  2u

struct cvm_ap_init_note {
	uint32_t version;      /* CVM_AP_INIT_VERSION */
	uint32_t mode;         /* CVM_AP_MODE_PROT32 or CVM_AP_MODE_LONG64 */
	uint64_t entry;        /* RIP at the first instruction */
	uint64_t stack_top;    /* RSP of vCPU 1 (stacks grow down) */
	uint64_t stack_stride; /* bytes between two APs' stack tops (each stack's size) */
	uint32_t nr_stacks;    /* vCPUs 1 .. nr_stacks have a stack */
	uint32_t flags;        /* 0 */
	uint64_t cr3;          /* CVM_AP_MODE_LONG64: page-table root; else 0 */
	uint64_t gdt_base;     /* GDTR; gdt_limit 0 with gdt_base 0: none */
	uint16_t gdt_limit;
	uint16_t code_sel; /* CS selector */
	uint16_t data_sel; /* DS, ES, FS, GS, SS selector */
	uint16_t reserved; /* 0 */
};
_Static_assert(sizeof(struct cvm_ap_init_note) == 64, "the note descriptor is 64 bytes");

/* ---- process exit status of `corevm run` ----
 * A guest write of V to the debug-exit port ends the VM with status (V << 1) | 1,
 * as QEMU's isa-debug-exit does; corevm's own statuses are therefore even. */
enum cvm_exit_status {
	CVM_EXIT_OK = 0,      /* the guest reported CVM_UCALL_DONE */
	CVM_EXIT_USAGE = 2,   /* bad command line */
	CVM_EXIT_FAILURE = 4, /* corevm could not set up or run the VM (bad image, KVM error) */
	CVM_EXIT_GUEST_ASSERT = 6, /* the guest reported CVM_UCALL_ASSERT */
	CVM_EXIT_TRIPLE_FAULT = 8, /* a vCPU shut down (KVM_EXIT_SHUTDOWN) */
	CVM_EXIT_RESET = 10,       /* the guest pulsed the reset line (0x64 <- 0xFE) */
	CVM_EXIT_GUEST_ERROR = 12, /* a vCPU cannot continue (emulation failure, entry failure) */
	CVM_EXIT_SIGNAL = 14,      /* stopped by SIGINT or SIGTERM */
	CVM_EXIT_TIMEOUT = 16,     /* --timeout elapsed before the guest ended */
};

#endif
