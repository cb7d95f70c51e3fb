/*
 * Guest image loading: multiboot v1 ELF and PVH ELF images into guest memory,
 * with the boot information each protocol defines. Pure: the caller supplies the
 * image bytes and a guest-memory view; nothing here does I/O or prints.
 */
#ifndef COREVM_LOADER_LOADER_H
#define COREVM_LOADER_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/gmem.h"
#include "arch/x86/guest_abi.h"

enum cvm_boot_protocol {
	CVM_BOOT_AUTO = 0,  /* PVH if the image has the PVH note, else multiboot (QEMU's order) */
	CVM_BOOT_MULTIBOOT, /* multiboot v1: header magic 0x1BADB002 in the first 8 KiB */
	CVM_BOOT_PVH,       /* ELF note XEN_ELFNOTE_PHYS32_ENTRY (18) */
};

struct cvm_module_spec {
	const uint8_t *data; /* module contents (owned by the caller) */
	size_t len;
	const char *string; /* module string (may be NULL: empty) */
};

struct cvm_boot_spec {
	const uint8_t *image; /* the whole ELF file (owned by the caller) */
	size_t image_len;
	enum cvm_boot_protocol protocol;
	const char *cmdline; /* may be NULL: empty */
	const struct cvm_module_spec *modules;
	unsigned int nmodules;
};

/*
 * Where and how the BSP starts: 32-bit flat protected mode (CS/DS/ES/SS base 0,
 * limit 4 GiB, CR0.PE=1, paging off, EFLAGS=0x2, interrupts off) at `eip`,
 * with EAX and EBX as the protocol defines (multiboot: EAX=0x2BADB002,
 * EBX=info; PVH: EBX=start_info, EAX=0).
 */
struct cvm_boot_entry {
	enum cvm_boot_protocol protocol; /* the protocol used (never AUTO) */
	uint32_t eip;
	uint32_t eax;
	uint32_t ebx;
	uint64_t image_start; /* lowest and highest+1 guest-physical byte the image occupies */
	uint64_t image_end;
	/* The image's AP initial-state note (CVM_NOTE_AP_INIT), validated; has_ap_init false: none. */
	struct cvm_ap_init_note ap_init;
	bool has_ap_init;
	uint8_t reserved[7]; /* 0; no padding anywhere: entries compare with memcmp() */
};

/*
 * Loads spec->image into gm and writes the boot information. Every value taken
 * from the image is validated against the file and against guest memory;
 * overlapping segments, segments outside RAM or in reserved areas
 * (CVM_GUEST_TRAMPOLINE.., CVM_GUEST_BOOTINFO..) and boot data that does not fit
 * are refused. Returns 0, or -EINVAL (malformed or unsupported image), -ENOEXEC
 * (no multiboot header or PVH note), -ENOSPC (does not fit in guest memory),
 * with a one-line reason in err (no trailing newline). An ELF image's
 * AP initial-state note, if any, is validated too (out->has_ap_init); a note
 * that is malformed or points outside the image or RAM fails the load (-EINVAL)
 * before guest memory is written.
 */
int cvm_load_guest(const struct cvm_gmem *gm, const struct cvm_boot_spec *spec,
                   struct cvm_boot_entry *out, char *err, size_t errlen);

/*
 * Decodes and checks an AP initial-state note descriptor (`len` bytes from the
 * image, any alignment) on its own: size, version, mode, flags, reserved
 * fields, selectors, alignments, the stack arithmetic (no wrap) and, for
 * 32-bit mode, that every address is below 4 GiB. cvm_load_guest() calls it
 * and then checks the addresses against the loaded segments and guest RAM.
 * Returns 0 with *out filled, or -EINVAL with a one-line reason in err.
 */
int cvm_ap_init_decode(const void *desc, size_t len, struct cvm_ap_init_note *out, char *err,
                       size_t errlen);

#endif
