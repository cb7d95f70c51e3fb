/*
 * cvm_load_guest(): picks the boot protocol, checks where the image goes, lays
 * out boot data and modules, and only then writes guest memory. Also the
 * helpers the multiboot and PVH builders share (memory map, placement).
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "loader/loader_internal.h"
#include "loader/multiboot.h"
#include "loader/pvh.h"

/* struct cvm_boot_entry has no padding (callers compare entries with memcmp()). */
_Static_assert(sizeof(struct cvm_boot_entry) == 4 * sizeof(uint32_t) + 2 * sizeof(uint64_t) +
                                                        sizeof(struct cvm_ap_init_note) + 8,
               "padding in struct cvm_boot_entry");

int cvm_ldr_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#define FAIL(l, rc, ...) cvm_ldr_fail((l)->err, (l)->errlen, (rc), __VA_ARGS__)

/* ---- the memory map and the areas loads may use ---- */

/* Windows of the guest-physical space where RAM appears (guest_abi.h layout). */
static const struct cvm_ldr_range ram_windows[] = {
        {0, CVM_GUEST_LOWMEM_END},
        {CVM_GUEST_HIGHMEM_START, CVM_GUEST_MMIO_HOLE_START},
        {CVM_GUEST_MMIO_HOLE_END, UINT64_MAX},
};

/* Fixed ranges nothing is loaded into, with the name used in error lines. */
static const struct {
	struct cvm_ldr_range r;
	const char *name;
} reserved[] = {
        {{CVM_GUEST_TRAMPOLINE, CVM_GUEST_TRAMPOLINE + CVM_GUEST_TRAMPOLINE_SIZE},
         "AP trampoline area"},
        {{CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END}, "boot-info area"},
        {{CVM_GUEST_LOWMEM_END, CVM_GUEST_HIGHMEM_START}, "legacy VGA/BIOS hole"},
        {{CVM_GUEST_MMIO_HOLE_START, CVM_GUEST_MMIO_HOLE_END}, "MMIO hole below 4 GiB"},
};

static void map_add(struct cvm_ldr *l, uint64_t addr, uint64_t len, uint32_t type)
{
	struct cvm_ldr_map_entry *last = l->nmap ? &l->map[l->nmap - 1] : NULL;

	if (last && last->type == type && last->addr + last->len == addr) {
		last->len += len;
		return;
	}
	if (l->nmap == CVM_LDR_MAX_MAP)
		return; /* cannot happen: at most 3 windows per region and one hole */
	l->map[l->nmap++] = (struct cvm_ldr_map_entry){addr, len, type};
}

/* Adds [start, end) minus the reserved boot areas to the loadable areas. */
static void area_add(struct cvm_ldr *l, uint64_t start, uint64_t end)
{
	const uint64_t rs = CVM_GUEST_TRAMPOLINE, re = CVM_GUEST_BOOTINFO_END;

	if (start >= CVM_LDR_4G || l->narea + 2 > CVM_LDR_MAX_AREAS)
		return; /* the second cannot happen: at most 3 areas per region */
	if (end > CVM_LDR_4G)
		end = CVM_LDR_4G;
	if (start < rs && end > start)
		l->area[l->narea++] = (struct cvm_ldr_range){start, end < rs ? end : rs};
	if (end > re && end > start)
		l->area[l->narea++] = (struct cvm_ldr_range){start > re ? start : re, end};
}

static void ldr_init_map(struct cvm_ldr *l)
{
	const struct cvm_gmem *gm = l->gm;
	bool hole_added = false;

	for (unsigned int i = 0; i < gm->nregions && i < CVM_GMEM_MAX_REGIONS; i++) {
		const struct cvm_gmem_region *r = &gm->region[i];
		uint64_t rend = r->gpa + r->size < r->gpa ? UINT64_MAX : r->gpa + r->size;
		for (size_t w = 0; w < sizeof(ram_windows) / sizeof(ram_windows[0]); w++) {
			uint64_t s = r->gpa > ram_windows[w].start ? r->gpa : ram_windows[w].start;
			uint64_t e = rend < ram_windows[w].end ? rend : ram_windows[w].end;
			if (s >= e)
				continue;
			if (s >= CVM_GUEST_HIGHMEM_START && !hole_added) {
				map_add(l, CVM_GUEST_LOWMEM_END,
				        CVM_GUEST_HIGHMEM_START - CVM_GUEST_LOWMEM_END,
				        CVM_LDR_E820_RESERV);
				hole_added = true;
			}
			map_add(l, s, e - s, CVM_LDR_E820_RAM);
			area_add(l, s, e);
		}
	}
}

/* ---- segments ---- */

static int check_placement(struct cvm_ldr *l, unsigned int i)
{
	const struct cvm_ldr_segment *s = &l->seg[i];
	uint64_t end;

	/* First, so that no end computed below wraps (an ELF64 segment may end at 2^64). */
	if (s->memsz > CVM_LDR_4G || s->paddr > CVM_LDR_4G - s->memsz)
		return FAIL(l, -EINVAL,
		            "segment %u [%#llx, +%#llx) is above 4 GiB, out of reach of a 32-bit "
		            "entry",
		            i, (unsigned long long)s->paddr, (unsigned long long)s->memsz);
	end = s->paddr + s->memsz;
	for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
		if (s->paddr < reserved[k].r.end && end > reserved[k].r.start)
			return FAIL(l, -EINVAL,
			            "segment %u [%#llx, %#llx) overlaps the %s [%#llx, %#llx)", i,
			            (unsigned long long)s->paddr, (unsigned long long)end,
			            reserved[k].name, (unsigned long long)reserved[k].r.start,
			            (unsigned long long)reserved[k].r.end);
	for (unsigned int a = 0; a < l->narea; a++)
		if (s->paddr >= l->area[a].start && end <= l->area[a].end)
			return 0;
	return FAIL(l, -ENOSPC, "segment %u [%#llx, %#llx) is outside guest RAM (%llu MiB)", i,
	            (unsigned long long)s->paddr, (unsigned long long)end,
	            (unsigned long long)(l->gm->ram_size >> 20));
}

int cvm_ldr_check_segments(struct cvm_ldr *l, uint64_t entry, const char *what)
{
	bool entry_ok = false;

	if (l->nseg == 0)
		return FAIL(l, -EINVAL, "image has no loadable segment");
	l->image_start = UINT64_MAX;
	l->image_end = 0;
	for (unsigned int i = 0; i < l->nseg; i++) {
		const struct cvm_ldr_segment *s = &l->seg[i];
		int rc = check_placement(l, i);
		if (rc)
			return rc;
		for (unsigned int j = 0; j < i; j++) {
			const struct cvm_ldr_segment *o = &l->seg[j];
			if (s->paddr < o->paddr + o->memsz && o->paddr < s->paddr + s->memsz)
				return FAIL(
				        l, -EINVAL,
				        "segments %u [%#llx, %#llx) and %u [%#llx, %#llx) overlap",
				        j, (unsigned long long)o->paddr,
				        (unsigned long long)(o->paddr + o->memsz), i,
				        (unsigned long long)s->paddr,
				        (unsigned long long)(s->paddr + s->memsz));
		}
		if (entry >= s->paddr && entry - s->paddr < s->memsz)
			entry_ok = true;
		if (s->paddr < l->image_start)
			l->image_start = s->paddr;
		if (s->paddr + s->memsz > l->image_end)
			l->image_end = s->paddr + s->memsz;
	}
	if (!entry_ok)
		return FAIL(l, -EINVAL, "%s %#llx is not inside a loaded segment", what,
		            (unsigned long long)entry);
	return 0;
}

/*
 * Zeroes [p, p + n) without writing pages that already read as zero, so that
 * a large bss in fresh (MAP_NORESERVE) guest memory does not become resident.
 */
static void zero_range(uint8_t *p, uint64_t n)
{
	static const uint8_t zero[256];

	while (n) {
		uint64_t chunk = n < sizeof(zero) ? n : sizeof(zero);
		if (memcmp(p, zero, chunk))
			memset(p, 0, chunk);
		p += chunk;
		n -= chunk;
	}
}

void cvm_ldr_write_segments(const struct cvm_ldr *l)
{
	for (unsigned int i = 0; i < l->nseg; i++) {
		const struct cvm_ldr_segment *s = &l->seg[i];
		uint8_t *p = cvm_gmem_ptr(l->gm, s->paddr, s->memsz);
		memcpy(p, s->data, s->filesz);
		zero_range(p + s->filesz, s->memsz - s->filesz);
	}
}

int cvm_ldr_elf_segments(struct cvm_ldr *l, const struct cvm_elf *elf)
{
	l->nseg = 0;
	for (unsigned int i = 0; i < elf->phnum; i++) {
		struct cvm_elf_phdr ph;
		cvm_elf_phdr(elf, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (l->nseg == CVM_LDR_MAX_LOADS)
			return FAIL(l, -EINVAL, "more than %d loadable segments",
			            CVM_LDR_MAX_LOADS);
		l->seg[l->nseg++] = (struct cvm_ldr_segment){
		        .paddr = ph.paddr,
		        .memsz = ph.memsz,
		        .data = elf->image + ph.offset,
		        .filesz = ph.filesz,
		};
	}
	return 0;
}

/* ---- boot data and modules ---- */

void cvm_ldr_writer_init(struct cvm_ldr_writer *w, struct cvm_ldr *l, bool write)
{
	*w = (struct cvm_ldr_writer){
	        .l = l,
	        .write = write,
	        .cur = CVM_GUEST_BOOTINFO,
	        .end = CVM_GUEST_BOOTINFO_END,
	        .mod_cursor = cvm_ldr_align_up(l->image_end, CVM_LDR_PAGE),
	};
}

int cvm_ldr_put(struct cvm_ldr_writer *w, const void *data, uint64_t len, uint64_t align,
                const char *what, uint64_t *gpa)
{
	uint64_t at = cvm_ldr_align_up(w->cur, align);

	if (at > w->end || len > w->end - at)
		return FAIL(w->l, -ENOSPC,
		            "boot data does not fit in [%#x, %#x): %s of %llu bytes at %#llx",
		            CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END, what,
		            (unsigned long long)len, (unsigned long long)at);
	w->cur = at + len;
	*gpa = at;
	if (data)
		cvm_ldr_poke(w, at, data, len);
	return 0;
}

int cvm_ldr_put_str(struct cvm_ldr_writer *w, const char *s, const char *what, uint64_t *gpa)
{
	if (!s)
		s = "";
	return cvm_ldr_put(w, s, strlen(s) + 1, 1, what, gpa);
}

void cvm_ldr_poke(struct cvm_ldr_writer *w, uint64_t gpa, const void *data, uint64_t len)
{
	if (w->write && len)
		memcpy(cvm_gmem_ptr(w->l->gm, gpa, len), data, len);
}

int cvm_ldr_put_module(struct cvm_ldr_writer *w, unsigned int i, uint64_t *gpa)
{
	const struct cvm_module_spec *m = &w->l->spec->modules[i];
	const struct cvm_ldr *l = w->l;

	for (unsigned int a = 0; a < l->narea; a++) {
		uint64_t start =
		        w->mod_cursor > l->area[a].start ? w->mod_cursor : l->area[a].start;
		start = cvm_ldr_align_up(start, CVM_LDR_PAGE);
		if (start > l->area[a].end || m->len > l->area[a].end - start)
			continue;
		*gpa = start;
		w->mod_cursor = start + m->len;
		if (w->write && m->len)
			memcpy(cvm_gmem_ptr(l->gm, start, m->len), m->data, m->len);
		return 0;
	}
	return FAIL(w->l, -ENOSPC,
	            "module %u (%zu bytes) does not fit in guest RAM below 4 GiB above %#llx", i,
	            m->len, (unsigned long long)w->mod_cursor);
}

int cvm_ldr_put_modules(struct cvm_ldr_writer *w, uint64_t list_at, size_t entry_size,
                        cvm_ldr_mod_encode_fn *encode)
{
	const struct cvm_boot_spec *spec = w->l->spec;
	uint64_t entry[4];

	for (unsigned int i = 0; i < spec->nmodules; i++) {
		uint64_t at, str_at;
		int rc = cvm_ldr_put_module(w, i, &at);
		if (rc == 0)
			rc = cvm_ldr_put_str(w, spec->modules[i].string, "module string", &str_at);
		if (rc)
			return rc;
		memset(entry, 0, sizeof(entry));
		encode(entry, at, spec->modules[i].len, str_at);
		cvm_ldr_poke(w, list_at + (uint64_t)i * entry_size, entry, entry_size);
	}
	return 0;
}

/* ---- the entry point ---- */

static int check_spec(struct cvm_ldr *l)
{
	const struct cvm_boot_spec *spec = l->spec;

	if (!l->gm || l->gm->nregions > CVM_GMEM_MAX_REGIONS)
		return FAIL(l, -EINVAL, "invalid guest memory description");
	if (!spec->image || spec->image_len == 0)
		return FAIL(l, -EINVAL, "empty image");
	if (spec->protocol != CVM_BOOT_AUTO && spec->protocol != CVM_BOOT_MULTIBOOT &&
	    spec->protocol != CVM_BOOT_PVH)
		return FAIL(l, -EINVAL, "unknown boot protocol %d", (int)spec->protocol);
	if (spec->nmodules && !spec->modules)
		return FAIL(l, -EINVAL, "%u modules given without a module list", spec->nmodules);
	for (unsigned int i = 0; i < spec->nmodules; i++)
		if (spec->modules[i].len && !spec->modules[i].data)
			return FAIL(l, -EINVAL, "module %u has %zu bytes but no data", i,
			            spec->modules[i].len);
	if (!cvm_gmem_contains(l->gm, CVM_GUEST_BOOTINFO,
	                       CVM_GUEST_BOOTINFO_END - CVM_GUEST_BOOTINFO))
		return FAIL(l, -ENOSPC, "guest RAM does not cover the boot-info area [%#x, %#x)",
		            CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END);
	return 0;
}

static int pvh_entry(struct cvm_ldr *l, const struct cvm_elf *elf, bool *found, uint32_t *entry)
{
	const uint8_t *desc;
	uint32_t descsz;
	uint64_t v = 0;

	*found =
	        cvm_elf_find_note(elf, CVM_PVH_NOTE_NAME, CVM_PVH_NOTE_PHYS32, &desc, &descsz) == 0;
	if (!*found)
		return 0;
	if (descsz != 4 && descsz != 8)
		return FAIL(l, -EINVAL, "PVH entry note has a %u-byte descriptor (want 4 or 8)",
		            descsz);
	memcpy(&v, desc, descsz);
	if (v > UINT32_MAX)
		return FAIL(l, -EINVAL, "PVH entry %#llx is not a 32-bit address",
		            (unsigned long long)v);
	*entry = (uint32_t)v;
	return 0;
}

/* What the image offers, found before a protocol is chosen. */
struct probe {
	bool is_elf;
	int elf_rc; /* cvm_elf_parse() result (reason in l->err) */
	bool has_pvh;
	uint32_t pvh_eip;
	bool has_mb;
	size_t mb_off;
	uint32_t mb_flags;
	char mb_why[96]; /* why no multiboot header was found */
};

static int probe_image(struct cvm_ldr *l, struct cvm_elf *elf, struct probe *p)
{
	const struct cvm_boot_spec *spec = l->spec;
	int rc;

	p->is_elf = cvm_elf_has_magic(spec->image, spec->image_len);
	if (p->is_elf) {
		p->elf_rc = cvm_elf_parse(elf, spec->image, spec->image_len, l->err, l->errlen);
		if (p->elf_rc == 0) {
			rc = pvh_entry(l, elf, &p->has_pvh, &p->pvh_eip);
			if (rc)
				return rc;
		}
	}
	if (spec->protocol == CVM_BOOT_PVH || (spec->protocol == CVM_BOOT_AUTO && p->has_pvh))
		return 0;
	rc = cvm_ldr_multiboot_find(l, &p->mb_off, &p->mb_flags, p->mb_why, sizeof(p->mb_why));
	if (rc < 0 && rc != -ENOENT)
		return rc;
	p->has_mb = rc == 0;
	return 0;
}

static int load(struct cvm_ldr *l, struct cvm_elf *elf, const struct probe *p,
                struct cvm_boot_entry *out)
{
	enum cvm_boot_protocol proto = l->spec->protocol;

	if (proto == CVM_BOOT_AUTO)
		proto = p->has_pvh ? CVM_BOOT_PVH : CVM_BOOT_MULTIBOOT;
	if (proto == CVM_BOOT_MULTIBOOT && p->has_mb && (p->mb_flags & CVM_MB_FLAG_ADDRS))
		return cvm_ldr_multiboot(l, NULL, p->mb_off, p->mb_flags, out);
	if (p->is_elf && p->elf_rc)
		return p->elf_rc; /* the ELF reason is already in l->err */
	if (proto == CVM_BOOT_PVH) {
		if (!p->is_elf)
			return FAIL(l, -ENOEXEC, "not an ELF file: PVH boot needs an ELF image");
		if (!p->has_pvh)
			return FAIL(
			        l, -ENOEXEC,
			        "no PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY) in the image");
		return cvm_ldr_pvh(l, elf, p->pvh_eip, out);
	}
	if (p->has_mb && !p->is_elf)
		return FAIL(l, -EINVAL,
		            "not an ELF file, and its multiboot header gives no load addresses "
		            "(flag bit 16)");
	if (p->has_mb)
		return cvm_ldr_multiboot(l, elf, p->mb_off, p->mb_flags, out);
	if (l->spec->protocol == CVM_BOOT_MULTIBOOT)
		return FAIL(l, -ENOEXEC, "%s", p->mb_why);
	return FAIL(l, -ENOEXEC, "%s%s",
	            p->is_elf ? "no PVH entry note and " : "not an ELF file and ", p->mb_why);
}

int cvm_load_guest(const struct cvm_gmem *gm, const struct cvm_boot_spec *spec,
                   struct cvm_boot_entry *out, char *err, size_t errlen)
{
	struct cvm_ldr l = {.gm = gm, .spec = spec, .err = err, .errlen = errlen};
	struct cvm_elf elf;
	struct probe p = {0};
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!spec || !out)
		return cvm_ldr_fail(err, errlen, -EINVAL, "no boot specification");
	rc = check_spec(&l);
	if (rc)
		return rc;
	ldr_init_map(&l);
	rc = probe_image(&l, &elf, &p);
	if (rc == 0) {
		l.elf = p.is_elf && p.elf_rc == 0 ? &elf
		                                  : NULL; /* its AP note: cvm_ldr_ap_init() */
		rc = load(&l, &elf, &p, out);
	}
	if (rc == 0 && err && errlen)
		err[0] = '\0';
	return rc;
}
