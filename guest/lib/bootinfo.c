/* Multiboot v1 info and PVH start info, parsed and validated for guests (see bootinfo.h). */
#include "guest/lib/bootinfo.h"

#include <stddef.h>

#include "arch/x86/guest_abi.h"
#include "guest/lib/layout.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"

extern uint32_t kit_boot_eax, kit_boot_ebx, kit_boot_entry;

/* Multiboot v1 information structure (the fields the kit reads). */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
};
#define MB_INFO_MEM     (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)

struct mb_module {
	uint32_t mod_start, mod_end, string, reserved;
};

/* Each entry is preceded by its size (not counting the size field itself). */
struct mb_mmap {
	uint32_t size;
	uint64_t addr, len;
	uint32_t type;
} __attribute__((packed));

/* PVH (xen/include/public/arch-x86/hvm/start_info.h), version 0 and 1. */
struct pvh_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries, reserved;
};

struct pvh_module {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct pvh_mmap {
	uint64_t addr, size;
	uint32_t type, reserved;
};

static struct {
	enum guest_boot_protocol protocol;
	const char *cmdline;
	uint32_t mb_flags, mem_lower, mem_upper;
	unsigned int nmodules, nmmap;
	struct guest_boot_module modules[KIT_BOOT_MAX_MODULES];
	struct guest_mmap_entry mmap[KIT_BOOT_MAX_MMAP];
} bi;

/* [addr, addr + len) readable through the identity map: below the MMIO hole, no wrap. */
static bool readable(uint64_t addr, uint64_t len)
{
	return addr < CVM_GUEST_MMIO_HOLE_START && len <= CVM_GUEST_MMIO_HOLE_START - addr;
}

static const void *checked_ptr(uint64_t addr, uint64_t len, const char *what)
{
	if (addr == 0 || !readable(addr, len))
		GUEST_FAIL("bootinfo: %s at 0x%lx, %lu bytes: outside readable RAM", what, addr,
		           len);
	return (const void *)(uintptr_t)addr;
}

static const char *checked_string(uint64_t addr, const char *what)
{
	if (addr == 0)
		return "";
	uint64_t room = readable(addr, 1) ? CVM_GUEST_MMIO_HOLE_START - addr : 0;
	const char *s = checked_ptr(addr, 1, what);
	uint64_t max = room < KIT_BOOT_MAX_STRING ? room : KIT_BOOT_MAX_STRING;
	if (kit_strnlen(s, max) == max)
		GUEST_FAIL("bootinfo: %s at 0x%lx: no NUL within %lu bytes", what, addr, max);
	return s;
}

static void check_module(unsigned int i)
{
	if (!readable(bi.modules[i].addr, bi.modules[i].size))
		GUEST_FAIL("bootinfo: module %u at 0x%lx, %lu bytes: outside readable RAM", i,
		           bi.modules[i].addr, bi.modules[i].size);
}

static void parse_multiboot(uint32_t info_addr)
{
	const struct mb_info *mb = checked_ptr(info_addr, sizeof(*mb), "multiboot info");
	bi.mb_flags = mb->flags;
	if (mb->flags & MB_INFO_MEM) {
		bi.mem_lower = mb->mem_lower;
		bi.mem_upper = mb->mem_upper;
	}
	if (mb->flags & MB_INFO_CMDLINE)
		bi.cmdline = checked_string(mb->cmdline, "multiboot cmdline");
	if (mb->flags & MB_INFO_MODS && mb->mods_count) {
		if (mb->mods_count > KIT_BOOT_MAX_MODULES)
			GUEST_FAIL("bootinfo: multiboot mods_count %u above %u", mb->mods_count,
			           KIT_BOOT_MAX_MODULES);
		const struct mb_module *m =
		        checked_ptr(mb->mods_addr, (uint64_t)mb->mods_count * sizeof(*m),
		                    "multiboot module list");
		for (unsigned int i = 0; i < mb->mods_count; i++) {
			if (m[i].mod_end < m[i].mod_start)
				GUEST_FAIL(
				        "bootinfo: multiboot module %u ends (0x%x) before it starts (0x%x)",
				        i, m[i].mod_end, m[i].mod_start);
			bi.modules[i].addr = m[i].mod_start;
			bi.modules[i].size = m[i].mod_end - m[i].mod_start;
			bi.modules[i].string =
			        checked_string(m[i].string, "multiboot module string");
			check_module(i);
		}
		bi.nmodules = mb->mods_count;
	}
	if (mb->flags & MB_INFO_MMAP && mb->mmap_length) {
		const uint8_t *p = checked_ptr(mb->mmap_addr, mb->mmap_length, "multiboot mmap");
		const uint8_t *end = p + mb->mmap_length;
		while (p < end) {
			const struct mb_mmap *e = (const void *)p;
			if ((uint64_t)(end - p) < sizeof(*e) || e->size < sizeof(*e) - 4 ||
			    e->size > (uint64_t)(end - p) - 4)
				GUEST_FAIL(
				        "bootinfo: multiboot mmap entry %u at 0x%lx malformed (size %u)",
				        bi.nmmap, (uint64_t)(uintptr_t)p, e->size);
			if (bi.nmmap == KIT_BOOT_MAX_MMAP)
				GUEST_FAIL("bootinfo: multiboot mmap has more than %u entries",
				           KIT_BOOT_MAX_MMAP);
			bi.mmap[bi.nmmap++] = (struct guest_mmap_entry){e->addr, e->len, e->type};
			p += e->size + 4;
		}
	}
}

static void parse_pvh(uint32_t info_addr)
{
	/* Version 0 ends before memmap_paddr; later versions only append fields. */
	const struct pvh_start_info *si = checked_ptr(
	        info_addr, offsetof(struct pvh_start_info, memmap_paddr), "PVH start info");
	bi.cmdline = checked_string(si->cmdline_paddr, "PVH cmdline");
	if (si->nr_modules) {
		if (si->nr_modules > KIT_BOOT_MAX_MODULES)
			GUEST_FAIL("bootinfo: PVH nr_modules %u above %u", si->nr_modules,
			           KIT_BOOT_MAX_MODULES);
		const struct pvh_module *m =
		        checked_ptr(si->modlist_paddr, (uint64_t)si->nr_modules * sizeof(*m),
		                    "PVH module list");
		for (unsigned int i = 0; i < si->nr_modules; i++) {
			bi.modules[i].addr = m[i].paddr;
			bi.modules[i].size = m[i].size;
			bi.modules[i].string =
			        checked_string(m[i].cmdline_paddr, "PVH module string");
			check_module(i);
		}
		bi.nmodules = si->nr_modules;
	}
	if (si->version >= 1) {
		(void)checked_ptr(info_addr, sizeof(*si), "PVH start info v1");
		if (si->memmap_entries > KIT_BOOT_MAX_MMAP)
			GUEST_FAIL("bootinfo: PVH memmap_entries %u above %u", si->memmap_entries,
			           KIT_BOOT_MAX_MMAP);
		if (si->memmap_entries) {
			const struct pvh_mmap *e = checked_ptr(
			        si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(*e),
			        "PVH memmap");
			for (unsigned int i = 0; i < si->memmap_entries; i++)
				bi.mmap[i] =
				        (struct guest_mmap_entry){e[i].addr, e[i].size, e[i].type};
			bi.nmmap = si->memmap_entries;
		}
	}
}

/*
 * Decided by the entry point the loader used, then its magic: qboot (QEMU
 * microvm) enters the PVH entry with EAX = 0x2BADB002 as well.
 */
void kit_bootinfo_init(void)
{
	if (kit_boot_entry == KIT_ENTRY_PVH && kit_boot_ebx != 0 && readable(kit_boot_ebx, 4) &&
	    *(const volatile uint32_t *)(uintptr_t)kit_boot_ebx == KIT_PVH_START_MAGIC) {
		bi.protocol = GUEST_BOOT_PVH;
		parse_pvh(kit_boot_ebx);
	} else if (kit_boot_entry == KIT_ENTRY_MULTIBOOT &&
	           kit_boot_eax == KIT_MULTIBOOT_BOOT_MAGIC) {
		bi.protocol = GUEST_BOOT_MULTIBOOT;
		parse_multiboot(kit_boot_ebx);
	}
}

enum guest_boot_protocol guest_boot_protocol(void)
{
	return bi.protocol;
}

const char *guest_boot_protocol_name(enum guest_boot_protocol p)
{
	switch (p) {
	case GUEST_BOOT_MULTIBOOT:
		return "multiboot";
	case GUEST_BOOT_PVH:
		return "PVH";
	default:
		return "unknown";
	}
}

uint32_t guest_boot_eax(void)
{
	return kit_boot_eax;
}

uint32_t guest_boot_ebx(void)
{
	return kit_boot_ebx;
}

uint32_t guest_boot_entry_point(void)
{
	return kit_boot_entry;
}

const char *guest_boot_cmdline(void)
{
	return bi.cmdline ? bi.cmdline : "";
}

unsigned int guest_boot_nmodules(void)
{
	return bi.nmodules;
}

void guest_boot_module(unsigned int i, struct guest_boot_module *m)
{
	GUEST_ASSERT(i < bi.nmodules);
	*m = bi.modules[i];
}

unsigned int guest_boot_nmmap(void)
{
	return bi.nmmap;
}

void guest_boot_mmap(unsigned int i, struct guest_mmap_entry *e)
{
	GUEST_ASSERT(i < bi.nmmap);
	*e = bi.mmap[i];
}

bool guest_boot_meminfo(uint32_t *lower_kib, uint32_t *upper_kib)
{
	if (bi.protocol != GUEST_BOOT_MULTIBOOT || !(bi.mb_flags & MB_INFO_MEM))
		return false;
	*lower_kib = bi.mem_lower;
	*upper_kib = bi.mem_upper;
	return true;
}

uint32_t guest_boot_multiboot_flags(void)
{
	return bi.mb_flags;
}
