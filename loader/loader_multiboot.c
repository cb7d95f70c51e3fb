/*
 * Multiboot v1 as QEMU's -kernel does it: finds the header, loads the ELF image
 * (or the address fields' byte range when flag 16 is set), and writes the
 * multiboot information with memory map, command line and modules.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "loader/loader_internal.h"
#include "loader/multiboot.h"

#define FAIL(l, rc, ...) cvm_ldr_fail((l)->err, (l)->errlen, (rc), __VA_ARGS__)

/* Bits 3-15: required features corevm does not know. */
#define MB_FLAGS_UNKNOWN_REQUIRED \
	(CVM_MB_FLAGS_REQUIRED &  \
	 ~(CVM_MB_FLAG_PAGE_ALIGN | CVM_MB_FLAG_MEMINFO | CVM_MB_FLAG_VIDEO))

static uint32_t le32_at(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

int cvm_ldr_multiboot_find(struct cvm_ldr *l, size_t *hdr_off, uint32_t *flags, char *why,
                           size_t whylen)
{
	const uint8_t *img = l->spec->image;
	size_t limit =
	        l->spec->image_len < CVM_MB_SEARCH_LEN ? l->spec->image_len : CVM_MB_SEARCH_LEN;
	size_t bad_off = SIZE_MAX;

	for (size_t i = 0; i + CVM_MB_HEADER_BASE_LEN <= limit; i += CVM_MB_HEADER_ALIGN) {
		if (le32_at(img + i) != CVM_MB_HEADER_MAGIC)
			continue;
		uint32_t f = le32_at(img + i + 4);
		if ((uint32_t)(CVM_MB_HEADER_MAGIC + f + le32_at(img + i + 8)) != 0) {
			if (bad_off == SIZE_MAX)
				bad_off = i;
			continue;
		}
		if (f & MB_FLAGS_UNKNOWN_REQUIRED)
			return FAIL(l, -EINVAL,
			            "multiboot header at offset %#zx requires features corevm does "
			            "not support (flags %#x, unknown required bits %#x)",
			            i, f, f & MB_FLAGS_UNKNOWN_REQUIRED);
		size_t need = (f & CVM_MB_FLAG_VIDEO)   ? CVM_MB_HEADER_VIDEO_END
		              : (f & CVM_MB_FLAG_ADDRS) ? CVM_MB_HEADER_ADDRS_END
		                                        : CVM_MB_HEADER_BASE_LEN;
		if (i + need > limit)
			return FAIL(
			        l, -EINVAL,
			        "multiboot header at offset %#zx is cut short: flags %#x need %zu "
			        "bytes within the first %zu",
			        i, f, need, limit);
		*hdr_off = i;
		*flags = f;
		return 0;
	}
	if (bad_off != SIZE_MAX)
		cvm_ldr_fail(why, whylen, -ENOENT,
		             "the multiboot header at offset %#zx has a bad checksum", bad_off);
	else
		cvm_ldr_fail(
		        why, whylen, -ENOENT,
		        "no multiboot header (magic %#x, 4-byte aligned) in the first %u bytes",
		        CVM_MB_HEADER_MAGIC, CVM_MB_SEARCH_LEN);
	return -ENOENT;
}

/* The byte range the header's address fields (flag 16) describe, as one segment. */
static int kludge_segment(struct cvm_ldr *l, size_t off, uint32_t *entry)
{
	const uint8_t *h = l->spec->image + off;
	uint32_t header_addr = le32_at(h + 12), load_addr = le32_at(h + 16);
	uint32_t load_end = le32_at(h + 20), bss_end = le32_at(h + 24);
	uint64_t text_off, load_size, mem_size;

	if (header_addr < load_addr || header_addr - load_addr > off)
		return FAIL(l, -EINVAL,
		            "multiboot header_addr %#x and load_addr %#x do not match the header's "
		            "file offset %#zx",
		            header_addr, load_addr, off);
	text_off = off - (header_addr - load_addr);
	if (load_end == 0) {
		load_size = l->spec->image_len - text_off;
	} else {
		if (load_end < load_addr)
			return FAIL(l, -EINVAL,
			            "multiboot load_end_addr %#x is below load_addr %#x", load_end,
			            load_addr);
		load_size = load_end - load_addr;
		if (load_size > l->spec->image_len - text_off)
			return FAIL(
			        l, -EINVAL,
			        "multiboot load range [%#x, %#x) needs %#llx file bytes from offset "
			        "%#llx, the file has %zu",
			        load_addr, load_end, (unsigned long long)load_size,
			        (unsigned long long)text_off, l->spec->image_len);
	}
	mem_size = load_size;
	if (bss_end) {
		if (bss_end < load_addr + load_size)
			return FAIL(l, -EINVAL,
			            "multiboot bss_end_addr %#x is below the loaded end %#llx",
			            bss_end, (unsigned long long)(load_addr + load_size));
		mem_size = bss_end - load_addr;
	}
	if ((uint64_t)load_addr + mem_size > CVM_LDR_4G)
		return FAIL(l, -EINVAL, "multiboot image [%#x, +%#llx) wraps past 4 GiB", load_addr,
		            (unsigned long long)mem_size);
	l->nseg = 0;
	if (mem_size)
		l->seg[l->nseg++] = (struct cvm_ldr_segment){
		        .paddr = load_addr,
		        .memsz = mem_size,
		        .data = l->spec->image + text_off,
		        .filesz = load_size,
		};
	*entry = le32_at(h + 28);
	return 0;
}

/* e_entry as a physical address: itself if a segment holds it, else through p_vaddr. */
static uint64_t elf_entry_phys(const struct cvm_elf *elf)
{
	struct cvm_elf_phdr ph;

	for (unsigned int i = 0; i < elf->phnum; i++) {
		cvm_elf_phdr(elf, i, &ph);
		if (ph.type == PT_LOAD && elf->entry >= ph.paddr &&
		    elf->entry - ph.paddr < ph.memsz)
			return elf->entry;
	}
	for (unsigned int i = 0; i < elf->phnum; i++) {
		cvm_elf_phdr(elf, i, &ph);
		if (ph.type == PT_LOAD && elf->entry >= ph.vaddr &&
		    elf->entry - ph.vaddr < ph.memsz)
			return elf->entry - ph.vaddr + ph.paddr;
	}
	return elf->entry;
}

static void mem_sizes(const struct cvm_ldr *l, uint32_t *lower_kib, uint32_t *upper_kib)
{
	*lower_kib = *upper_kib = 0;
	for (unsigned int i = 0; i < l->nmap; i++) {
		const struct cvm_ldr_map_entry *e = &l->map[i];
		if (e->type != CVM_LDR_E820_RAM)
			continue;
		if (e->addr == 0)
			*lower_kib = (uint32_t)((e->len < 0xa0000 ? e->len : 0xa0000) >> 10);
		if (e->addr == 0x100000)
			*upper_kib = (uint32_t)(e->len >> 10);
	}
}

static void encode_module(void *entry, uint64_t at, uint64_t len, uint64_t str_at)
{
	struct cvm_mb_module m = {
	        .mod_start = (uint32_t)at,
	        .mod_end = (uint32_t)(at + len),
	        .string = (uint32_t)str_at,
	};
	memcpy(entry, &m, sizeof(m));
}

/* Lays out (and with w->write, writes) the multiboot information; *info gets its address. */
static int build_info(struct cvm_ldr_writer *w, uint64_t *info_at)
{
	struct cvm_ldr *l = w->l;
	const struct cvm_boot_spec *spec = l->spec;
	struct cvm_mb_info info = {0};
	uint64_t mmap_at, mods_at = 0, cmd_at, name_at;
	int rc;

	rc = cvm_ldr_put(w, NULL, sizeof(info), 8, "multiboot info", info_at);
	if (rc == 0)
		rc = cvm_ldr_put(w, NULL, (uint64_t)l->nmap * sizeof(struct cvm_mb_mmap_entry), 8,
		                 "memory map", &mmap_at);
	if (rc == 0 && spec->nmodules)
		rc = cvm_ldr_put(w, NULL, (uint64_t)spec->nmodules * sizeof(struct cvm_mb_module),
		                 8, "module list", &mods_at);
	if (rc == 0)
		rc = cvm_ldr_put_str(w, spec->cmdline, "command line", &cmd_at);
	if (rc == 0)
		rc = cvm_ldr_put_str(w, "corevm", "boot loader name", &name_at);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < l->nmap; i++) {
		struct cvm_mb_mmap_entry e = {
		        .size = sizeof(e) - sizeof(e.size),
		        .base_addr = l->map[i].addr,
		        .length = l->map[i].len,
		        .type = l->map[i].type,
		};
		cvm_ldr_poke(w, mmap_at + i * sizeof(e), &e, sizeof(e));
	}
	rc = cvm_ldr_put_modules(w, mods_at, sizeof(struct cvm_mb_module), encode_module);
	if (rc)
		return rc;
	info.flags =
	        CVM_MBI_MEM | CVM_MBI_CMDLINE | CVM_MBI_MODS | CVM_MBI_MMAP | CVM_MBI_LOADER_NAME;
	mem_sizes(l, &info.mem_lower, &info.mem_upper);
	info.cmdline = (uint32_t)cmd_at;
	info.mods_count = spec->nmodules;
	info.mods_addr = (uint32_t)mods_at;
	info.mmap_length = l->nmap * (uint32_t)sizeof(struct cvm_mb_mmap_entry);
	info.mmap_addr = (uint32_t)mmap_at;
	info.boot_loader_name = (uint32_t)name_at;
	cvm_ldr_poke(w, *info_at, &info, sizeof(info));
	return 0;
}

int cvm_ldr_multiboot(struct cvm_ldr *l, const struct cvm_elf *elf, size_t hdr_off, uint32_t flags,
                      struct cvm_boot_entry *out)
{
	struct cvm_ldr_writer w;
	uint64_t entry, info_at;
	uint32_t entry32 = 0;
	int rc;

	if (elf) {
		rc = cvm_ldr_elf_segments(l, elf);
		entry = elf_entry_phys(elf);
	} else {
		rc = kludge_segment(l, hdr_off, &entry32);
		entry = entry32;
	}
	if (rc == 0)
		rc = cvm_ldr_check_segments(l, entry,
		                            elf ? "ELF entry point" : "multiboot entry_addr");
	if (rc)
		return rc;
	(void)flags; /* page alignment and memory information are always given */
	cvm_ldr_writer_init(&w, l, false);
	rc = build_info(&w, &info_at);
	if (rc == 0)
		rc = cvm_ldr_ap_init(l);
	if (rc)
		return rc;
	cvm_ldr_write_segments(l);
	cvm_ldr_writer_init(&w, l, true);
	build_info(&w, &info_at);
	*out = (struct cvm_boot_entry){
	        .protocol = CVM_BOOT_MULTIBOOT,
	        .eip = (uint32_t)entry,
	        .eax = CVM_MB_BOOT_MAGIC,
	        .ebx = (uint32_t)info_at,
	        .image_start = l->image_start,
	        .image_end = l->image_end,
	        .has_ap_init = l->has_ap_init,
	        .ap_init = l->ap_init, /* all 0 without a note */
	};
	return 0;
}
