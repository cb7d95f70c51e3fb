/*
 * Boot-information test guest: reports what the loader handed over (multiboot
 * v1 info or PVH start info, as parsed and validated by the kit), so the host
 * can compare it with what it passed: protocol, command line, memory map,
 * modules (size, FNV-1a checksum of the contents, string).
 *
 * Reports (ucall), in this order:
 *   REPORT stage CVM_STAGE_BOOT_INFO (2): args[1] = protocol (1 multiboot,
 *          2 PVH), args[2] = memory-map entries, args[3] = modules;
 *          msg = "multiboot" or "PVH"
 *   REPORT stage BOOTINFO_STAGE_CMDLINE (100): args[1] = length in bytes,
 *          args[2] = FNV-1a-64 of those bytes; msg = the command line
 *          (truncated to 127 bytes). QEMU's multiboot loader puts the kernel's
 *          file name and a space before the command line; PVH does not.
 *   per memory-map entry i: REPORT stage BOOTINFO_STAGE_MMAP (101):
 *          args[1] = i | (type << 32), args[2] = base, args[3] = length
 *   per module i: REPORT stage BOOTINFO_STAGE_MODULE (102): args[1] = i,
 *          args[2] = size in bytes, args[3] = FNV-1a-64 of the contents;
 *          msg = the module string (truncated to 127 bytes)
 *   per module i: REPORT stage BOOTINFO_STAGE_MODULE_STRING (103): args[1] = i,
 *          args[2] = string length, args[3] = FNV-1a-64 of the string
 *   multiboot only: REPORT stage BOOTINFO_STAGE_MEMINFO (104): args[1] =
 *          mem_lower (KiB), args[2] = mem_upper (KiB), args[3] = info flags
 *   then DONE.
 * FNV-1a-64: offset basis 0xcbf29ce484222325, prime 0x100000001b3, per byte
 * h = (h ^ byte) * prime. The checksum costs ~5 emulated instructions per byte:
 * keep modules to a few KiB.
 * Serial: one "bootinfo: ..." line per item above.
 * Fails (ASSERT) if the protocol is unknown or a structure is malformed (the
 * kit's validation), or a module overlaps the guest image or the trampoline area.
 */
#include "guest/lib/kit.h"

#define BOOTINFO_STAGE_CMDLINE       (CVM_STAGE_USER + 0)
#define BOOTINFO_STAGE_MMAP          (CVM_STAGE_USER + 1)
#define BOOTINFO_STAGE_MODULE        (CVM_STAGE_USER + 2)
#define BOOTINFO_STAGE_MODULE_STRING (CVM_STAGE_USER + 3)
#define BOOTINFO_STAGE_MEMINFO       (CVM_STAGE_USER + 4)

extern const uint8_t kit_image_start[], kit_image_end[];

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

void guest_main(void)
{
	enum guest_boot_protocol proto = guest_boot_protocol();
	const char *name = guest_boot_protocol_name(proto);
	GUEST_ASSERT_MSG(proto != GUEST_BOOT_UNKNOWN,
	                 "bootinfo: no boot protocol recognised (eax 0x%x ebx 0x%x entry %u)",
	                 guest_boot_eax(), guest_boot_ebx(), guest_boot_entry_point());
	unsigned int nmmap = guest_boot_nmmap(), nmod = guest_boot_nmodules();
	guest_report(CVM_STAGE_BOOT_INFO, proto, nmmap, nmod, name);
	guest_printf("bootinfo: protocol %s, %u memory-map entries, %u modules\n", name, nmmap,
	             nmod);

	const char *cmdline = guest_boot_cmdline();
	size_t len = strlen(cmdline);
	uint64_t h = kit_fnv1a(KIT_FNV1A_INIT, cmdline, len);
	guest_report(BOOTINFO_STAGE_CMDLINE, len, h, 0, cmdline);
	guest_printf("bootinfo: cmdline \"%s\" (%lu bytes, fnv1a 0x%lx)\n", cmdline, len, h);

	for (unsigned int i = 0; i < nmmap; i++) {
		struct guest_mmap_entry e;
		guest_boot_mmap(i, &e);
		GUEST_REPORT(BOOTINFO_STAGE_MMAP, i | ((uint64_t)e.type << 32), e.addr, e.size);
		guest_printf("bootinfo: mmap %u: 0x%lx +0x%lx type %u\n", i, e.addr, e.size,
		             e.type);
	}

	uint64_t image = (uint64_t)(uintptr_t)kit_image_start;
	uint64_t image_len = (uint64_t)(kit_image_end - kit_image_start);
	for (unsigned int i = 0; i < nmod; i++) {
		struct guest_boot_module m;
		guest_boot_module(i, &m);
		GUEST_ASSERT_MSG(!overlaps(m.addr, m.size, image, image_len),
		                 "bootinfo: module %u at 0x%lx +0x%lx overlaps the image", i,
		                 m.addr, m.size);
		GUEST_ASSERT_MSG(
		        !overlaps(m.addr, m.size, CVM_GUEST_TRAMPOLINE, CVM_GUEST_TRAMPOLINE_SIZE),
		        "bootinfo: module %u at 0x%lx +0x%lx overlaps the trampoline area", i,
		        m.addr, m.size);
		uint64_t hc = kit_fnv1a(KIT_FNV1A_INIT, (const void *)(uintptr_t)m.addr, m.size);
		size_t slen = strlen(m.string);
		uint64_t hs = kit_fnv1a(KIT_FNV1A_INIT, m.string, slen);
		guest_report(BOOTINFO_STAGE_MODULE, i, m.size, hc, m.string);
		GUEST_REPORT(BOOTINFO_STAGE_MODULE_STRING, i, slen, hs);
		guest_printf("bootinfo: module %u at 0x%lx size %lu fnv1a 0x%lx string \"%s\"\n", i,
		             m.addr, m.size, hc, m.string);
	}

	uint32_t lower, upper;
	if (guest_boot_meminfo(&lower, &upper)) {
		uint32_t flags = guest_boot_multiboot_flags();
		GUEST_REPORT(BOOTINFO_STAGE_MEMINFO, lower, upper, flags);
		guest_printf("bootinfo: mem_lower %u KiB, mem_upper %u KiB, flags 0x%x\n", lower,
		             upper, flags);
	}
	GUEST_DONE();
}
