/*
 * Pieces shared by the loader's files (ELF reader, multiboot and PVH builders):
 * error lines, the guest-physical areas a load may use, the memory map reported
 * to the guest, and the writer that lays out boot data. Not a public API.
 */
#ifndef COREVM_LOADER_LOADER_INTERNAL_H
#define COREVM_LOADER_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/gmem.h"
#include "loader/elf_file.h"
#include "loader/loader.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "boot structures are written in host byte order, which must be little endian");

#define CVM_LDR_PAGE        4096u
#define CVM_LDR_4G          UINT64_C(0x100000000)
#define CVM_LDR_MAX_LOADS   64 /* PT_LOAD segments with bytes in memory */
#define CVM_LDR_MAX_AREAS   (CVM_GMEM_MAX_REGIONS * 4)
#define CVM_LDR_MAX_MAP     (CVM_GMEM_MAX_REGIONS * 3 + 1)
#define CVM_LDR_E820_RAM    1u
#define CVM_LDR_E820_RESERV 2u

/* Formats a one-line reason into err (if any) and returns rc. */
int cvm_ldr_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static inline uint64_t cvm_ldr_align_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* One entry of the memory map reported to the guest (E820 types). */
struct cvm_ldr_map_entry {
	uint64_t addr;
	uint64_t len;
	uint32_t type;
};

/* A guest-physical range [start, end). */
struct cvm_ldr_range {
	uint64_t start;
	uint64_t end;
};

/* One piece of what the image asks to be loaded. */
struct cvm_ldr_segment {
	uint64_t paddr;
	uint64_t memsz;
	const uint8_t *data; /* filesz bytes inside the image */
	uint64_t filesz;
};

/* The state of one cvm_load_guest() call. */
struct cvm_ldr {
	const struct cvm_gmem *gm;
	const struct cvm_boot_spec *spec;
	char *err;
	size_t errlen;
	/* RAM as reported to the guest. */
	struct cvm_ldr_map_entry map[CVM_LDR_MAX_MAP];
	unsigned int nmap;
	/* RAM below 4 GiB where the image and modules may go (one gm region each). */
	struct cvm_ldr_range area[CVM_LDR_MAX_AREAS];
	unsigned int narea;
	struct cvm_ldr_segment seg[CVM_LDR_MAX_LOADS];
	unsigned int nseg;
	uint64_t image_start, image_end;
	/* The parsed ELF image (its notes), NULL when the image is not a valid ELF file. */
	const struct cvm_elf *elf;
	/* The AP initial-state note, once cvm_ldr_ap_init() accepted it. */
	bool has_ap_init;
	struct cvm_ap_init_note ap_init;
};

/*
 * Checks the segments in l->seg (placement, overlaps) and that `entry` lies in
 * one of them; sets image_start/image_end. `what` names the entry's origin.
 */
int cvm_ldr_check_segments(struct cvm_ldr *l, uint64_t entry, const char *what);

/* Copies every segment into guest memory and zeroes the rest of each (bss). */
void cvm_ldr_write_segments(const struct cvm_ldr *l);

/*
 * Lays out boot data in [CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END) and modules
 * above the image. A protocol builder runs twice: first with write false (every
 * placement is checked, nothing written), then with write true.
 */
struct cvm_ldr_writer {
	struct cvm_ldr *l;
	bool write;
	uint64_t cur, end;   /* next free boot-info byte, end of the area */
	uint64_t mod_cursor; /* lowest address for the next module */
};

void cvm_ldr_writer_init(struct cvm_ldr_writer *w, struct cvm_ldr *l, bool write);

/*
 * Reserves len bytes (aligned) in the boot-info area, copies data there if data
 * is not NULL and the writer writes, and stores the address in *gpa. -ENOSPC
 * naming `what` when it does not fit.
 */
int cvm_ldr_put(struct cvm_ldr_writer *w, const void *data, uint64_t len, uint64_t align,
                const char *what, uint64_t *gpa);

/* cvm_ldr_put() of a NUL-terminated string (NULL: empty string). */
int cvm_ldr_put_str(struct cvm_ldr_writer *w, const char *s, const char *what, uint64_t *gpa);

/* Writes len bytes at gpa (inside an earlier cvm_ldr_put() reservation) if the writer writes. */
void cvm_ldr_poke(struct cvm_ldr_writer *w, uint64_t gpa, const void *data, uint64_t len);

/*
 * Places module i page-aligned above the image and every earlier module, below
 * 4 GiB, in RAM outside reserved areas, copying its contents if the writer writes.
 */
int cvm_ldr_put_module(struct cvm_ldr_writer *w, unsigned int i, uint64_t *gpa);

/*
 * Places every module (cvm_ldr_put_module), then its string, and writes the
 * protocol's list entry that `encode` builds (at most 32 bytes) at
 * list_at + i * entry_size.
 */
typedef void cvm_ldr_mod_encode_fn(void *entry, uint64_t at, uint64_t len, uint64_t str_at);
int cvm_ldr_put_modules(struct cvm_ldr_writer *w, uint64_t list_at, size_t entry_size,
                        cvm_ldr_mod_encode_fn *encode);

/* The two protocols. Each fills out->eip/eax/ebx; segments are already checked. */
/*
 * Finds the multiboot header: 0 (offset and flags set), -ENOENT (reason in why)
 * or another -errno (reason in l->err).
 */
int cvm_ldr_multiboot_find(struct cvm_ldr *l, size_t *hdr_off, uint32_t *flags, char *why,
                           size_t whylen);
/* elf NULL: load by the header's address fields (flag 16). */
int cvm_ldr_multiboot(struct cvm_ldr *l, const struct cvm_elf *elf, size_t hdr_off, uint32_t flags,
                      struct cvm_boot_entry *out);
int cvm_ldr_pvh(struct cvm_ldr *l, const struct cvm_elf *elf, uint32_t entry,
                struct cvm_boot_entry *out);

/*
 * Finds, decodes and checks the AP initial-state note of l->elf against the
 * segments about to be loaded (l->seg) and guest RAM; fills
 * l->has_ap_init/ap_init. Call after the segments are checked and before
 * anything is written, so that a bad note leaves guest memory untouched.
 * No note (or no ELF image): 0 with has_ap_init false. A bad note: -EINVAL,
 * reason in l->err.
 */
int cvm_ldr_ap_init(struct cvm_ldr *l);

/* Collects the PT_LOAD segments of a parsed ELF image into l->seg. */
int cvm_ldr_elf_segments(struct cvm_ldr *l, const struct cvm_elf *elf);

#endif
