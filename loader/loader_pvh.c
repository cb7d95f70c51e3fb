/*
 * PVH direct boot: loads the ELF image by physical address and writes the
 * hvm_start_info (version 1) with command line, module list and memory map.
 */
#include <errno.h>
#include <string.h>

#include "loader/loader_internal.h"
#include "loader/pvh.h"

static void encode_module(void *entry, uint64_t at, uint64_t len, uint64_t str_at)
{
	struct cvm_pvh_modlist_entry m = {.paddr = at, .size = len, .cmdline_paddr = str_at};
	memcpy(entry, &m, sizeof(m));
}

/* Lays out (and with w->write, writes) the start info; *info_at gets its address. */
static int build_start_info(struct cvm_ldr_writer *w, uint64_t *info_at)
{
	struct cvm_ldr *l = w->l;
	const struct cvm_boot_spec *spec = l->spec;
	struct cvm_pvh_start_info si = {0};
	uint64_t map_at, mods_at = 0, cmd_at;
	int rc;

	rc = cvm_ldr_put(w, NULL, sizeof(si), 8, "PVH start info", info_at);
	if (rc == 0)
		rc = cvm_ldr_put(w, NULL, (uint64_t)l->nmap * sizeof(struct cvm_pvh_memmap_entry),
		                 8, "memory map", &map_at);
	if (rc == 0 && spec->nmodules)
		rc = cvm_ldr_put(w, NULL,
		                 (uint64_t)spec->nmodules * sizeof(struct cvm_pvh_modlist_entry), 8,
		                 "module list", &mods_at);
	if (rc == 0)
		rc = cvm_ldr_put_str(w, spec->cmdline, "command line", &cmd_at);
	if (rc)
		return rc;
	for (unsigned int i = 0; i < l->nmap; i++) {
		struct cvm_pvh_memmap_entry e = {
		        .addr = l->map[i].addr,
		        .size = l->map[i].len,
		        .type = l->map[i].type,
		};
		cvm_ldr_poke(w, map_at + i * sizeof(e), &e, sizeof(e));
	}
	rc = cvm_ldr_put_modules(w, mods_at, sizeof(struct cvm_pvh_modlist_entry), encode_module);
	if (rc)
		return rc;
	si.magic = CVM_PVH_START_MAGIC;
	si.version = CVM_PVH_START_VERSION;
	si.nr_modules = spec->nmodules;
	si.modlist_paddr = mods_at;
	si.cmdline_paddr = cmd_at;
	si.memmap_paddr = map_at;
	si.memmap_entries = l->nmap;
	cvm_ldr_poke(w, *info_at, &si, sizeof(si));
	return 0;
}

int cvm_ldr_pvh(struct cvm_ldr *l, const struct cvm_elf *elf, uint32_t entry,
                struct cvm_boot_entry *out)
{
	struct cvm_ldr_writer w;
	uint64_t info_at;
	int rc;

	rc = cvm_ldr_elf_segments(l, elf);
	if (rc == 0)
		rc = cvm_ldr_check_segments(l, entry, "PVH entry point");
	if (rc)
		return rc;
	cvm_ldr_writer_init(&w, l, false);
	rc = build_start_info(&w, &info_at);
	if (rc == 0)
		rc = cvm_ldr_ap_init(l);
	if (rc)
		return rc;
	cvm_ldr_write_segments(l);
	cvm_ldr_writer_init(&w, l, true);
	build_start_info(&w, &info_at);
	*out = (struct cvm_boot_entry){
	        .protocol = CVM_BOOT_PVH,
	        .eip = entry,
	        .eax = 0,
	        .ebx = (uint32_t)info_at,
	        .image_start = l->image_start,
	        .image_end = l->image_end,
	        .has_ap_init = l->has_ap_init,
	        .ap_init = l->ap_init, /* all 0 without a note */
	};
	return 0;
}
