/*
 * Multiboot v1 (specification 0.6.96) layouts: the header an image carries and
 * the boot information a loader hands over. Only <stdint.h>, so freestanding
 * guests may include it too. Every field is little endian.
 */
#ifndef COREVM_LOADER_MULTIBOOT_H
#define COREVM_LOADER_MULTIBOOT_H

#include <stdint.h>

#define CVM_MB_HEADER_MAGIC 0x1BADB002u /* in the image */
#define CVM_MB_BOOT_MAGIC   0x2BADB002u /* in EAX at entry */
#define CVM_MB_SEARCH_LEN   8192u       /* the header lies in the image's first 8 KiB */
#define CVM_MB_HEADER_ALIGN 4u

/* Header flags: bits 0-15 must be honoured (or the load refused), 16-31 are optional. */
#define CVM_MB_FLAG_PAGE_ALIGN (1u << 0)  /* modules page-aligned */
#define CVM_MB_FLAG_MEMINFO    (1u << 1)  /* mem_* and the memory map wanted */
#define CVM_MB_FLAG_VIDEO      (1u << 2)  /* video mode wanted (fields 32..47) */
#define CVM_MB_FLAG_ADDRS      (1u << 16) /* address fields 12..31 valid ("a.out kludge") */
#define CVM_MB_FLAGS_REQUIRED  0x0000ffffu

/* The image's header; the fields after checksum exist only when their flag is set. */
struct cvm_mb_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum;    /* magic + flags + checksum == 0 (mod 2^32) */
	uint32_t header_addr; /* CVM_MB_FLAG_ADDRS: where this header is loaded */
	uint32_t
	        load_addr; /* where the file byte (header offset - (header_addr - load_addr)) goes */
	uint32_t load_end_addr; /* end of the loaded bytes; 0: up to the end of the file */
	uint32_t bss_end_addr;  /* end of the zeroed bss; 0: no bss */
	uint32_t entry_addr;
	uint32_t mode_type; /* CVM_MB_FLAG_VIDEO */
	uint32_t width;
	uint32_t height;
	uint32_t depth;
};

#define CVM_MB_HEADER_BASE_LEN  12u /* magic, flags, checksum */
#define CVM_MB_HEADER_ADDRS_END 32u /* ... up to entry_addr */
#define CVM_MB_HEADER_VIDEO_END 48u /* ... up to depth */

/* Boot information flags: which fields of struct cvm_mb_info are valid. */
#define CVM_MBI_MEM         (1u << 0) /* mem_lower, mem_upper */
#define CVM_MBI_BOOTDEV     (1u << 1)
#define CVM_MBI_CMDLINE     (1u << 2)
#define CVM_MBI_MODS        (1u << 3)
#define CVM_MBI_MMAP        (1u << 6)
#define CVM_MBI_LOADER_NAME (1u << 9)

/* The boot information structure; EBX holds its address at entry. */
struct cvm_mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB of RAM from 0 (at most 640) */
	uint32_t mem_upper; /* KiB of RAM from 1 MiB up to the first hole */
	uint32_t boot_device;
	uint32_t cmdline; /* address of a NUL-terminated string */
	uint32_t mods_count;
	uint32_t mods_addr; /* array of struct cvm_mb_module */
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes of memory map */
	uint32_t mmap_addr;   /* first struct cvm_mb_mmap_entry */
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
};

struct cvm_mb_module {
	uint32_t mod_start;
	uint32_t mod_end; /* one past the last byte */
	uint32_t string;  /* address of a NUL-terminated string */
	uint32_t reserved;
};

/*
 * A memory map entry. `size` counts the bytes after itself (20 here); the next
 * entry starts size + 4 bytes after this one. Types: 1 RAM, 2 reserved.
 */
struct __attribute__((packed)) cvm_mb_mmap_entry {
	uint32_t size;
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
};

_Static_assert(sizeof(struct cvm_mb_header) == CVM_MB_HEADER_VIDEO_END, "multiboot header size");
_Static_assert(sizeof(struct cvm_mb_info) == 88, "multiboot info size");
_Static_assert(sizeof(struct cvm_mb_module) == 16, "multiboot module size");
_Static_assert(sizeof(struct cvm_mb_mmap_entry) == 24, "multiboot mmap entry size");

#endif
