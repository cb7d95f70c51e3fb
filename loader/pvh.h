/*
 * PVH direct boot layouts (Xen's public arch-x86/hvm/start_info.h, version 1):
 * the start-info structure whose address is in EBX at the 32-bit entry given by
 * the ELF note XEN_ELFNOTE_PHYS32_ENTRY. Only <stdint.h>, so freestanding guests
 * may include it too. Every field is little endian; address 0 means "absent".
 */
#ifndef COREVM_LOADER_PVH_H
#define COREVM_LOADER_PVH_H

#include <stdint.h>

#define CVM_PVH_NOTE_NAME     "Xen"
#define CVM_PVH_NOTE_PHYS32   18u /* XEN_ELFNOTE_PHYS32_ENTRY: 32-bit entry, 4 or 8 bytes */
#define CVM_PVH_START_MAGIC   0x336ec578u
#define CVM_PVH_START_VERSION 1u

struct cvm_pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags; /* SIF_*: none set by corevm */
	uint32_t nr_modules;
	uint64_t modlist_paddr; /* array of struct cvm_pvh_modlist_entry */
	uint64_t cmdline_paddr; /* NUL-terminated string */
	uint64_t rsdp_paddr;    /* ACPI RSDP: 0, corevm has no ACPI tables */
	uint64_t memmap_paddr;  /* version 1: array of struct cvm_pvh_memmap_entry */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct cvm_pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/* Types as in E820: 1 RAM, 2 reserved. */
struct cvm_pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct cvm_pvh_start_info) == 56, "hvm_start_info size");
_Static_assert(sizeof(struct cvm_pvh_modlist_entry) == 32, "hvm_modlist_entry size");
_Static_assert(sizeof(struct cvm_pvh_memmap_entry) == 24, "hvm_memmap_table_entry size");

#endif
