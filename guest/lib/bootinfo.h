/*
 * What the loader told the guest: which protocol started it (multiboot v1 or
 * PVH) and, through one interface for both, the command line, the modules and
 * the memory map. kit_bootinfo_init() (run by the kit before guest_main)
 * validates the structures: magic, version, flags, counts, and that every
 * pointer and length lies below CVM_GUEST_MMIO_HOLE_START (the identity-mapped
 * RAM a guest can read) without wrapping; strings must end within their bound.
 * A violation fails the test with a message naming the field.
 */
#ifndef GUEST_LIB_BOOTINFO_H
#define GUEST_LIB_BOOTINFO_H

#include <stdbool.h>
#include <stdint.h>

/* Numbering matches enum cvm_boot_protocol in loader/loader.h. */
enum guest_boot_protocol {
	GUEST_BOOT_UNKNOWN = 0,
	GUEST_BOOT_MULTIBOOT = 1,
	GUEST_BOOT_PVH = 2,
};

#define KIT_BOOT_MAX_MODULES 64
#define KIT_BOOT_MAX_MMAP    128
#define KIT_BOOT_MAX_STRING  4096 /* command line and module strings, with the NUL */

struct guest_boot_module {
	uint64_t addr;      /* guest-physical start */
	uint64_t size;      /* bytes */
	const char *string; /* never NULL ("" when the loader gave none) */
};

struct guest_mmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 = RAM, 2 = reserved, ... (e820 numbering) */
};

enum guest_boot_protocol guest_boot_protocol(void);
const char *guest_boot_protocol_name(enum guest_boot_protocol p);

/* Raw values at entry: EAX, EBX, and which entry point (KIT_ENTRY_*) was used. */
uint32_t guest_boot_eax(void);
uint32_t guest_boot_ebx(void);
uint32_t guest_boot_entry_point(void);

/* The command line ("" when none was given). */
const char *guest_boot_cmdline(void);

unsigned int guest_boot_nmodules(void);
/* Fills *m for module i < guest_boot_nmodules(). */
void guest_boot_module(unsigned int i, struct guest_boot_module *m);

unsigned int guest_boot_nmmap(void);
void guest_boot_mmap(unsigned int i, struct guest_mmap_entry *e);

/*
 * Multiboot only: mem_lower and mem_upper in KiB and the info flags; returns
 * false under PVH or when flags bit 0 is clear.
 */
bool guest_boot_meminfo(uint32_t *lower_kib, uint32_t *upper_kib);
uint32_t guest_boot_multiboot_flags(void);

/* Kit internal: parse and validate; called once on the BSP before guest_main(). */
void kit_bootinfo_init(void);

#endif
