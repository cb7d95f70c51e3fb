/*
 * Fuzz target: cvm_load_guest() (loader/loader.h) of one image, with AUTO,
 * MULTIBOOT and PVH, into a small guest-memory view whose regions sit between
 * poisoned guard pages. Checked: a refused image leaves guest memory untouched
 * and gives one line of reason; an accepted one wrote only its segments, the
 * boot-info area and its modules, inside RAM, and the boot information it
 * wrote describes exactly the command line, modules and RAM it was given;
 * an AP initial-state note it accepted points into the image and RAM;
 * AUTO agrees with the protocol it picked.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/guest_abi.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"
#include "loader/loader.h"
#include "loader/multiboot.h"
#include "loader/pvh.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FZ_HAVE_ASAN 1
#endif
#endif
#ifndef FZ_HAVE_ASAN
#define ASAN_POISON_MEMORY_REGION(p, n)   ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

#define KIB        UINT64_C(1024)
#define MIB        (KIB * KIB)
#define FOUR_GIB   (UINT64_C(4) << 30)
#define GUARD      4096u
#define MAX_HOST   (3u << 20) /* bytes of guest RAM at most, over all regions */
#define ARENA      (MAX_HOST + (CVM_GMEM_MAX_REGIONS + 1) * GUARD)
#define FILL       0xccu /* guest memory before a load */
#define MAX_MOD    (3u << 20)
#define MAX_CMDGEN (0x7fu * 8 * 1024)

/* Guest RAM lives here, each region after a guard that stays poisoned. */
static uint8_t arena[ARENA] __attribute__((aligned(4096)));
/* Module contents: a fixed pattern, written once, only read after. */
static uint8_t modbuf[MAX_MOD + 256];
static uint8_t fill_block[4096]; /* FILL bytes, to compare guest memory against */

struct region_spec {
	uint64_t gpa, size;
};

/* Preset layouts (see fuzz_ops.h): sizes stay small so that every run is cheap. */
static const struct region_spec presets[8][CVM_GMEM_MAX_REGIONS] = {
        {{0, 2 * MIB}},
        {{0, 1280 * KIB}},
        {{0, MIB}, {MIB, MIB}},
        {{0, 1536 * KIB}, {FOUR_GIB, 256 * KIB}},
        {{0, 636 * KIB}},
        {{64 * KIB, 2 * MIB - 64 * KIB}},
        {{0, 128 * KIB}},
        {{0, 0x9fc00},
         {MIB, 512 * KIB},
         {(UINT64_C(3) << 30) - 256 * KIB, 256 * KIB},
         {FOUR_GIB, 64 * KIB}},
};

struct load_input {
	struct cvm_gmem gm;
	char cmd_small[256];
	char *cmdline; /* cmd_small or a malloc'd generated one; what the guest must see */
	struct cvm_module_spec mod[FZ_LOADER_MAX_MODULES];
	char modstr[FZ_LOADER_MAX_MODULES][256];
	struct cvm_boot_spec spec;
};

/* ---- decoding the input ---- */

static void add_region(struct cvm_gmem *gm, uint64_t gpa, uint64_t size, size_t *host)
{
	struct cvm_gmem_region *r = &gm->region[gm->nregions++];

	*host += GUARD;
	r->gpa = gpa;
	r->size = size;
	r->hva = arena + *host;
	*host += size;
	gm->ram_size += size;
}

static void decode_layout(struct cvm_gmem *gm, struct fz *f)
{
	uint8_t sel = fz_u8(f);
	size_t host = 0;

	memset(gm, 0, sizeof(*gm));
	if (!(sel & FZ_LOADER_LAYOUT_CUSTOM)) {
		const struct region_spec *p = presets[sel % 8];
		for (unsigned int i = 0; i < CVM_GMEM_MAX_REGIONS && p[i].size; i++)
			add_region(gm, p[i].gpa, p[i].size, &host);
		return;
	}
	unsigned int n = 1 + fz_u8(f) % CVM_GMEM_MAX_REGIONS;
	uint64_t end = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint16_t gap = fz_u16(f), sz = fz_u16(f);
		uint64_t size = (uint64_t)(sz % 2048 + 1) * KIB;
		uint64_t left = MAX_HOST - gm->ram_size;
		if (!left)
			break;
		end += (gap & 0x8000u) ? (uint64_t)(gap & 0x7fffu) * MIB : gap * KIB;
		size = size < left ? size : left;
		add_region(gm, end, size, &host);
		end += size;
	}
}

static bool decode(struct load_input *in, struct fz *f)
{
	uint8_t c;
	size_t n;
	const uint8_t *p;

	decode_layout(&in->gm, f);
	c = fz_u8(f);
	in->cmdline = in->cmd_small;
	if (c & FZ_LOADER_CMDLINE_GEN) {
		n = (size_t)(c & 0x7fu) * 8 * 1024;
		in->cmdline = malloc(n + 1);
		if (!in->cmdline)
			return false;
		memset(in->cmdline, 'x', n);
		in->cmdline[n] = '\0';
	} else if (c != FZ_LOADER_NULL_CMDLINE) {
		p = fz_bytes(f, c, &n);
		memcpy(in->cmd_small, p, n);
		in->cmd_small[n] = '\0';
	}
	in->spec.nmodules = fz_u8(f) % FZ_LOADER_MAX_MODULES;
	for (unsigned int i = 0; i < in->spec.nmodules; i++) {
		uint32_t len = fz_u32(f) % MAX_MOD;
		uint8_t fill = fz_u8(f), slen = fz_u8(f);
		p = fz_bytes(f, slen == FZ_LOADER_NULL_STRING ? 0 : slen, &n);
		memcpy(in->modstr[i], p, n);
		in->modstr[i][n] = '\0';
		in->mod[i] = (struct cvm_module_spec){
		        .data = modbuf + fill,
		        .len = len,
		        .string = slen == FZ_LOADER_NULL_STRING ? NULL : in->modstr[i]};
	}
	in->spec.modules = in->mod;
	/* NULL is passed as an empty string: the checks expect "" */
	in->spec.cmdline = c == FZ_LOADER_NULL_CMDLINE ? NULL : in->cmdline;
	in->spec.image = f->p;
	in->spec.image_len = f->n;
	return true;
}

/* ---- guest memory ---- */

static void fill_ram(const struct cvm_gmem *gm)
{
	for (unsigned int i = 0; i < gm->nregions; i++)
		memset(gm->region[i].hva, FILL, gm->region[i].size);
}

/* Every byte of [gpa, gpa + len) is RAM (possibly across adjacent regions). */
static bool ram_covers(const struct cvm_gmem *gm, uint64_t gpa, uint64_t len)
{
	while (len) {
		unsigned int i;
		for (i = 0; i < gm->nregions; i++) {
			const struct cvm_gmem_region *r = &gm->region[i];
			if (gpa >= r->gpa && gpa - r->gpa < r->size)
				break;
		}
		if (i == gm->nregions)
			return false;
		uint64_t in = gm->region[i].size - (gpa - gm->region[i].gpa);
		in = in < len ? in : len;
		gpa += in;
		len -= in;
	}
	return true;
}

static const void *gptr(const struct cvm_gmem *gm, uint64_t gpa, uint64_t len, const char *what)
{
	const void *p = cvm_gmem_ptr(gm, gpa, len);

	FZ_CHECK(p, "%s at %#llx (+%llu) is not in RAM", what, (unsigned long long)gpa,
	         (unsigned long long)len);
	return p;
}

/* The NUL-terminated string at gpa is `want`. */
static void check_gstr(const struct cvm_gmem *gm, uint64_t gpa, const char *want, const char *what)
{
	size_t n = strlen(want);
	const char *p = gptr(gm, gpa, n + 1, what);

	FZ_CHECK(!memcmp(p, want, n) && p[n] == '\0', "%s at %#llx differs", what,
	         (unsigned long long)gpa);
}

/* What a successful load may have written. */
struct allowed {
	uint64_t start[FZ_LOADER_MAX_MODULES + 2], end[FZ_LOADER_MAX_MODULES + 2];
	unsigned int n;
};

static void allow(struct allowed *a, uint64_t start, uint64_t len)
{
	a->start[a->n] = start;
	a->end[a->n++] = start + len;
}

static bool allowed_at(const struct allowed *a, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < a->n; i++)
		if (gpa >= a->start[i] && gpa + len <= a->end[i])
			return true;
	return false;
}

/* No byte outside `a` (NULL: none at all) differs from FILL. */
static void check_writes(const struct cvm_gmem *gm, const struct allowed *a, const char *why)
{
	for (unsigned int i = 0; i < gm->nregions; i++) {
		const struct cvm_gmem_region *r = &gm->region[i];
		for (uint64_t off = 0; off < r->size; off += sizeof(fill_block)) {
			uint64_t len = r->size - off < sizeof(fill_block) ? r->size - off
			                                                  : sizeof(fill_block);
			if (!memcmp(r->hva + off, fill_block, len) ||
			    (a && allowed_at(a, r->gpa + off, len)))
				continue;
			for (uint64_t b = 0; b < len; b++)
				FZ_CHECK(r->hva[off + b] == FILL ||
				                 (a && allowed_at(a, r->gpa + off + b, 1)),
				         "%s: guest byte %#llx written", why,
				         (unsigned long long)(r->gpa + off + b));
		}
	}
}

/* A module at [start, start + len): page-aligned RAM below 4 GiB, above the image, as given. */
static void check_module(const struct cvm_gmem *gm, const struct cvm_boot_entry *out,
                         const struct cvm_module_spec *m, uint64_t start, uint64_t len,
                         uint64_t *floor, struct allowed *a)
{
	FZ_CHECK(len == m->len && start % 4096 == 0 && start >= *floor && start >= out->image_end &&
	                 start + len <= CVM_GUEST_MMIO_HOLE_START,
	         "module at %#llx, %llu bytes (given %zu), above %#llx", (unsigned long long)start,
	         (unsigned long long)len, m->len, (unsigned long long)*floor);
	FZ_CHECK(!(start < CVM_GUEST_BOOTINFO_END && start + len > CVM_GUEST_TRAMPOLINE) &&
	                 !(start < CVM_GUEST_HIGHMEM_START && start + len > CVM_GUEST_LOWMEM_END),
	         "module at %#llx overlaps a reserved area", (unsigned long long)start);
	if (len)
		FZ_CHECK(!memcmp(gptr(gm, start, len, "module"), m->data, len),
		         "module contents at %#llx", (unsigned long long)start);
	*floor = start + len;
	allow(a, start, len);
}

/* A memory-map entry: RAM is RAM, the one reserved range is the legacy hole; ascending. */
static void check_map_entry(const struct cvm_gmem *gm, uint64_t addr, uint64_t len, uint32_t type,
                            uint64_t *floor)
{
	FZ_CHECK(len && addr >= *floor, "memory map entry [%#llx, +%#llx) out of order",
	         (unsigned long long)addr, (unsigned long long)len);
	if (type == 1)
		FZ_CHECK(ram_covers(gm, addr, len) && !(addr < CVM_GUEST_MMIO_HOLE_END &&
		                                        addr + len > CVM_GUEST_MMIO_HOLE_START),
		         "RAM entry [%#llx, +%#llx) is not guest RAM", (unsigned long long)addr,
		         (unsigned long long)len);
	else
		FZ_CHECK(type == 2 && addr == CVM_GUEST_LOWMEM_END &&
		                 addr + len == CVM_GUEST_HIGHMEM_START,
		         "memory map entry type %u [%#llx, +%#llx)", type, (unsigned long long)addr,
		         (unsigned long long)len);
	*floor = addr + len;
}

static void check_multiboot(const struct load_input *in, const struct cvm_boot_entry *out,
                            struct allowed *a)
{
	const struct cvm_gmem *gm = &in->gm;
	struct cvm_mb_info info;
	uint64_t floor = 0;

	memcpy(&info, gptr(gm, out->ebx, sizeof(info), "multiboot info"), sizeof(info));
	FZ_CHECK(out->eax == CVM_MB_BOOT_MAGIC, "multiboot EAX %#x", out->eax);
	FZ_CHECK(info.flags == (CVM_MBI_MEM | CVM_MBI_CMDLINE | CVM_MBI_MODS | CVM_MBI_MMAP |
	                        CVM_MBI_LOADER_NAME),
	         "multiboot info flags %#x", info.flags);
	check_gstr(gm, info.cmdline, in->cmdline, "command line");
	check_gstr(gm, info.boot_loader_name, "corevm", "boot loader name");
	FZ_CHECK(info.mods_count == in->spec.nmodules, "%u modules", info.mods_count);
	for (unsigned int i = 0; i < info.mods_count; i++) {
		struct cvm_mb_module m;
		memcpy(&m, gptr(gm, info.mods_addr + i * sizeof(m), sizeof(m), "module list"),
		       sizeof(m));
		FZ_CHECK(m.mod_end >= m.mod_start, "module %u ends before it starts", i);
		check_module(gm, out, &in->mod[i], m.mod_start, m.mod_end - m.mod_start, &floor, a);
		check_gstr(gm, m.string, in->modstr[i], "module string");
	}
	FZ_CHECK(info.mmap_length % sizeof(struct cvm_mb_mmap_entry) == 0 && info.mmap_length,
	         "memory map of %u bytes", info.mmap_length);
	floor = 0;
	for (uint32_t off = 0; off < info.mmap_length; off += sizeof(struct cvm_mb_mmap_entry)) {
		struct cvm_mb_mmap_entry e;
		memcpy(&e, gptr(gm, info.mmap_addr + off, sizeof(e), "memory map"), sizeof(e));
		FZ_CHECK(e.size == sizeof(e) - sizeof(e.size), "memory map entry size %u", e.size);
		check_map_entry(gm, e.base_addr, e.length, e.type, &floor);
	}
}

static void check_pvh(const struct load_input *in, const struct cvm_boot_entry *out,
                      struct allowed *a)
{
	const struct cvm_gmem *gm = &in->gm;
	struct cvm_pvh_start_info si;
	uint64_t floor = 0;

	memcpy(&si, gptr(gm, out->ebx, sizeof(si), "PVH start info"), sizeof(si));
	FZ_CHECK(out->eax == 0, "PVH EAX %#x", out->eax);
	FZ_CHECK(si.magic == CVM_PVH_START_MAGIC && si.version == CVM_PVH_START_VERSION &&
	                 si.flags == 0 && si.rsdp_paddr == 0,
	         "PVH start info magic %#x version %u flags %#x", si.magic, si.version, si.flags);
	check_gstr(gm, si.cmdline_paddr, in->cmdline, "command line");
	FZ_CHECK(si.nr_modules == in->spec.nmodules && (si.nr_modules || !si.modlist_paddr),
	         "%u modules, list at %#llx", si.nr_modules, (unsigned long long)si.modlist_paddr);
	for (unsigned int i = 0; i < si.nr_modules; i++) {
		struct cvm_pvh_modlist_entry m;
		memcpy(&m, gptr(gm, si.modlist_paddr + i * sizeof(m), sizeof(m), "module list"),
		       sizeof(m));
		check_module(gm, out, &in->mod[i], m.paddr, m.size, &floor, a);
		check_gstr(gm, m.cmdline_paddr, in->modstr[i], "module string");
	}
	FZ_CHECK(si.memmap_entries, "empty memory map");
	floor = 0;
	for (unsigned int i = 0; i < si.memmap_entries; i++) {
		struct cvm_pvh_memmap_entry e;
		memcpy(&e, gptr(gm, si.memmap_paddr + i * sizeof(e), sizeof(e), "memory map"),
		       sizeof(e));
		check_map_entry(gm, e.addr, e.size, e.type, &floor);
	}
}

/*
 * The AP initial-state note of an accepted image (docs/protected-state.md):
 * none, and every note field 0; or a note whose entry lies in the image and
 * whose stacks, page-table root and GDT lie in RAM, as its mode requires.
 */
static void check_ap_init(const struct load_input *in, const struct cvm_boot_entry *out)
{
	static const struct cvm_ap_init_note none;
	static const uint8_t zero[sizeof(out->reserved)];
	const struct cvm_ap_init_note *n = &out->ap_init;
	uint64_t span, top;

	FZ_CHECK(!memcmp(out->reserved, zero, sizeof(zero)), "boot entry: reserved bytes set");
	if (!out->has_ap_init) {
		FZ_CHECK(!memcmp(n, &none, sizeof(none)), "no AP note, but note fields are set");
		return;
	}
	FZ_CHECK(n->version == CVM_AP_INIT_VERSION &&
	                 (n->mode == CVM_AP_MODE_PROT32 || n->mode == CVM_AP_MODE_LONG64) &&
	                 !n->flags && !n->reserved,
	         "AP note version %u mode %u flags %#x", n->version, n->mode, n->flags);
	FZ_CHECK(n->entry >= out->image_start && n->entry < out->image_end,
	         "AP entry %#llx outside the image", (unsigned long long)n->entry);
	FZ_CHECK(n->nr_stacks >= 1 && n->stack_stride && n->stack_top >= n->stack_stride &&
	                 !__builtin_mul_overflow((uint64_t)n->nr_stacks, n->stack_stride, &span) &&
	                 !__builtin_add_overflow(n->stack_top - n->stack_stride, span, &top) &&
	                 cvm_gmem_contains(&in->gm, n->stack_top - n->stack_stride, span),
	         "AP stacks: %u of %#llx below %#llx not in RAM", n->nr_stacks,
	         (unsigned long long)n->stack_stride, (unsigned long long)n->stack_top);
	if (n->mode == CVM_AP_MODE_LONG64)
		FZ_CHECK(n->cr3 && !(n->cr3 & 0xfff) && cvm_gmem_contains(&in->gm, n->cr3, 4096),
		         "AP page-table root %#llx", (unsigned long long)n->cr3);
	else
		FZ_CHECK(!n->cr3 && n->entry <= UINT32_MAX && top <= FOUR_GIB,
		         "32-bit AP note: cr3 %#llx, entry %#llx, stacks end %#llx",
		         (unsigned long long)n->cr3, (unsigned long long)n->entry,
		         (unsigned long long)top);
	if (n->gdt_base || n->gdt_limit)
		FZ_CHECK(cvm_gmem_contains(&in->gm, n->gdt_base, n->gdt_limit + 1u),
		         "AP GDT at %#llx", (unsigned long long)n->gdt_base);
}

static void check_accepted(const struct load_input *in, enum cvm_boot_protocol proto,
                           const struct cvm_boot_entry *out)
{
	struct allowed a = {0};

	FZ_CHECK(out->protocol == proto ||
	                 (proto == CVM_BOOT_AUTO &&
	                  (out->protocol == CVM_BOOT_MULTIBOOT || out->protocol == CVM_BOOT_PVH)),
	         "protocol %d loaded as %d", proto, out->protocol);
	FZ_CHECK(out->image_start < out->image_end && out->image_end <= CVM_GUEST_MMIO_HOLE_START &&
	                 out->eip >= out->image_start && out->eip < out->image_end,
	         "image [%#llx, %#llx) with entry %#x", (unsigned long long)out->image_start,
	         (unsigned long long)out->image_end, out->eip);
	FZ_CHECK(cvm_gmem_contains(&in->gm, out->eip, 1), "entry %#x is not in RAM", out->eip);
	FZ_CHECK(out->ebx >= CVM_GUEST_BOOTINFO && out->ebx < CVM_GUEST_BOOTINFO_END,
	         "boot information at %#x", out->ebx);
	allow(&a, out->image_start, out->image_end - out->image_start);
	allow(&a, CVM_GUEST_BOOTINFO, CVM_GUEST_BOOTINFO_END - CVM_GUEST_BOOTINFO);
	if (out->protocol == CVM_BOOT_MULTIBOOT)
		check_multiboot(in, out, &a);
	else
		check_pvh(in, out, &a);
	check_ap_init(in, out);
	check_writes(&in->gm, &a, "accepted image");
}

struct result {
	int rc;
	struct cvm_boot_entry out;
};

static struct result load_one(const struct load_input *in, enum cvm_boot_protocol proto)
{
	struct cvm_boot_spec spec = in->spec;
	struct result r = {0};
	char err[128];
	size_t len;

	memset(err, 0x5a, sizeof(err));
	fill_ram(&in->gm);
	spec.protocol = proto;
	r.rc = cvm_load_guest(&in->gm, &spec, &r.out, err, sizeof(err));
	len = strnlen(err, sizeof(err));
	fz_trace("protocol %d: rc %d%s%.*s eip %#x ebx %#x image [%#llx, %#llx)", proto, r.rc,
	         r.rc ? ": " : "", (int)len, err, r.out.eip, r.out.ebx,
	         (unsigned long long)r.out.image_start, (unsigned long long)r.out.image_end);
	FZ_CHECK(len < sizeof(err), "error line not terminated");
	FZ_CHECK(r.rc == 0 || r.rc == -EINVAL || r.rc == -ENOEXEC || r.rc == -ENOSPC,
	         "protocol %d: rc %d (%s)", proto, r.rc, err);
	if (r.rc) {
		FZ_CHECK(len > 0 && !strchr(err, '\n'), "protocol %d: rc %d with reason '%s'",
		         proto, r.rc, err);
		check_writes(&in->gm, NULL, "refused image");
	} else {
		FZ_CHECK(len == 0, "success with reason '%s'", err);
		check_accepted(in, proto, &r.out);
	}
	return r;
}

static bool same(const struct result *a, const struct result *b)
{
	return a->rc == b->rc && !memcmp(&a->out, &b->out, sizeof(a->out));
}

static void setup_once(void)
{
	static bool done;

	if (done)
		return;
	for (size_t i = 0; i < sizeof(modbuf); i++)
		modbuf[i] = (uint8_t)(i * 131 + (i >> 9));
	memset(fill_block, FILL, sizeof(fill_block));
	done = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = fz_start(data, size);
	struct load_input in;
	struct result auto_r, mb_r, pvh_r;

	setup_once();
	memset(&in, 0, sizeof(in));
	if (!decode(&in, &f))
		return 0;
	fz_trace("%u regions, %llu KiB, command line of %zu bytes, %u modules, image of %zu bytes",
	         in.gm.nregions, (unsigned long long)(in.gm.ram_size >> 10), strlen(in.cmdline),
	         in.spec.nmodules, in.spec.image_len);
	ASAN_POISON_MEMORY_REGION(arena, sizeof(arena));
	for (unsigned int i = 0; i < in.gm.nregions; i++)
		ASAN_UNPOISON_MEMORY_REGION(in.gm.region[i].hva, in.gm.region[i].size);

	mb_r = load_one(&in, CVM_BOOT_MULTIBOOT);
	pvh_r = load_one(&in, CVM_BOOT_PVH);
	auto_r = load_one(&in, CVM_BOOT_AUTO);
	/* AUTO takes PVH when the note is there (so PVH loads), else multiboot. */
	if (pvh_r.rc == 0)
		FZ_CHECK(same(&auto_r, &pvh_r), "PVH loads but AUTO gives rc %d protocol %d",
		         auto_r.rc, auto_r.out.protocol);
	if (auto_r.rc == 0)
		FZ_CHECK(same(&auto_r, auto_r.out.protocol == CVM_BOOT_PVH ? &pvh_r : &mb_r),
		         "AUTO loaded as protocol %d, which alone gives rc %d", auto_r.out.protocol,
		         auto_r.out.protocol == CVM_BOOT_PVH ? pvh_r.rc : mb_r.rc);

	ASAN_UNPOISON_MEMORY_REGION(arena, sizeof(arena));
	if (in.cmdline != in.cmd_small)
		free(in.cmdline);
	return 0;
}
