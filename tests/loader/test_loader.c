/*
 * Unit tests for loader/: multiboot v1 and PVH images built in memory, checked
 * byte by byte in guest memory, and truncated or hostile images refused with the
 * right error and a reason.
 */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "arch/x86/guest_abi.h"
#include "elf_builder.h"
#include "loader/loader.h"

#define MiB      (UINT64_C(1) << 20)
#define GiB      (UINT64_C(1) << 30)
#define POISON   0xAA
#define INFO     CVM_GUEST_BOOTINFO
#define MB_MAGIC 0x2BADB002u

/* A guest: RAM from 0 (and optionally from 4 GiB), poisoned so that writes show. */
struct vm {
	struct cvm_gmem gm;
	uint8_t *low, *high;
	uint64_t low_size, high_size;
	bool mapped; /* regions come from mmap (large layouts) */
};

static void vm_init(struct vm *v, uint64_t low, uint64_t high)
{
	memset(v, 0, sizeof(*v));
	v->low_size = low, v->high_size = high;
	v->low = malloc(low);
	assert_non_null(v->low);
	memset(v->low, POISON, low);
	v->gm.region[0] = (struct cvm_gmem_region){0, low, v->low};
	v->gm.nregions = 1;
	if (high) {
		v->high = malloc(high);
		assert_non_null(v->high);
		memset(v->high, POISON, high);
		v->gm.region[1] = (struct cvm_gmem_region){4 * GiB, high, v->high};
		v->gm.nregions = 2;
	}
	v->gm.ram_size = low + high;
}

static void vm_free(struct vm *v)
{
	if (v->mapped) {
		munmap(v->low, v->low_size);
		if (v->high)
			munmap(v->high, v->high_size);
	} else {
		free(v->low);
		free(v->high);
	}
}

/* Guest pointer (asserting the range is RAM). */
static uint8_t *gp(struct vm *v, uint64_t gpa, uint64_t len)
{
	uint8_t *p = cvm_gmem_ptr(&v->gm, gpa, len);
	assert_non_null(p);
	return p;
}

static uint32_t g32(struct vm *v, uint64_t gpa)
{
	return tb_le32(gp(v, gpa, 4));
}

static uint64_t g64(struct vm *v, uint64_t gpa)
{
	return tb_le64(gp(v, gpa, 8));
}

static void assert_gstr(struct vm *v, uint64_t gpa, const char *want)
{
	assert_memory_equal(gp(v, gpa, strlen(want) + 1), want, strlen(want) + 1);
}

static bool all_poison(struct vm *v, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gp(v, gpa, len);
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != POISON)
			return false;
	return true;
}

struct load_args {
	enum cvm_boot_protocol protocol;
	const char *cmdline;
	const struct cvm_module_spec *modules;
	unsigned int nmodules;
};

static char errbuf[256];

static int load(struct vm *v, const uint8_t *img, size_t len, const struct load_args *a,
                struct cvm_boot_entry *out)
{
	static const struct load_args none;
	struct cvm_boot_spec spec;
	struct cvm_boot_entry dummy;

	if (!a)
		a = &none;
	spec = (struct cvm_boot_spec){img, len, a->protocol, a->cmdline, a->modules, a->nmodules};
	memset(errbuf, 'x', sizeof(errbuf));
	int rc = cvm_load_guest(&v->gm, &spec, out ? out : &dummy, errbuf, sizeof(errbuf));
	/* The reason is one line, NUL-terminated, present exactly on failure. */
	assert_non_null(memchr(errbuf, '\0', sizeof(errbuf)));
	assert_null(strchr(errbuf, '\n'));
	if (rc)
		assert_true(strlen(errbuf) > 0);
	else
		assert_string_equal(errbuf, "");
	return rc;
}

/* Expects the load to fail with rc and a reason containing `words`. */
static void expect_fail(struct vm *v, const uint8_t *img, size_t len, const struct load_args *a,
                        int rc, const char *words)
{
	assert_int_equal(load(v, img, len, a, NULL), rc);
	if (!strstr(errbuf, words))
		fail_msg("reason \"%s\" does not mention \"%s\"", errbuf, words);
}

/* A 32-bit multiboot ELF: text at 1 MiB with bss, data at 2 MiB. */
static struct tb_elf mb_elf32(void)
{
	struct tb_elf s = {.is64 = false, .entry = 0x100010, .multiboot = true, .mb_flags = 3};
	s.seg[0] = (struct tb_seg){.paddr = 0x100000, .filesz = 0x300, .memsz = 0x2000};
	s.seg[1] = (struct tb_seg){.paddr = 0x200000, .filesz = 0x40, .memsz = 0x40};
	s.nseg = 2;
	return s;
}

static const uint8_t pvh_entry_desc[4] = {0x40, 0x00, 0x10, 0x00}; /* 0x100040 */

/* A 64-bit PVH ELF: one segment at 1 MiB, entry from the note. */
static struct tb_elf pvh_elf64(void)
{
	struct tb_elf s = {.is64 = true, .entry = 0xffffffff81000000ull};
	s.seg[0] = (struct tb_seg){.paddr = 0x100000,
	                           .vaddr = 0xffffffff81000000ull,
	                           .filesz = 0x1000,
	                           .memsz = 0x3000};
	s.nseg = 1;
	s.note[0] = (struct tb_note){"GNU", 3, "abcdefgh", 8};
	s.note[1] = (struct tb_note){"Xen", 18, pvh_entry_desc, 4};
	s.nnote = 2;
	return s;
}

/* Checks every segment's bytes and that its bss was zeroed over the poison. */
static void assert_segments(struct vm *v, const struct tb_elf *s)
{
	for (unsigned int i = 0; i < s->nseg; i++) {
		const struct tb_seg *g = &s->seg[i];
		const uint8_t *p = gp(v, g->paddr, g->memsz);
		for (uint64_t b = 0; b < g->filesz; b++)
			assert_int_equal(p[b], tb_pattern(b + i));
		for (uint64_t b = g->filesz; b < g->memsz; b++)
			assert_int_equal(p[b], 0);
	}
}

/* ---- valid images ---- */

static uint8_t mod1_data[5000];

static void test_multiboot_elf32(void **state)
{
	struct tb_elf s = mb_elf32();
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	struct cvm_boot_entry e;
	for (size_t i = 0; i < sizeof(mod1_data); i++)
		mod1_data[i] = (uint8_t)(i ^ 0x5a);
	const struct cvm_module_spec mods[2] = {
	        {(const uint8_t *)"hello module", 13, "mod0 arg=1"},
	        {mod1_data, sizeof(mod1_data), NULL},
	};
	struct load_args a = {CVM_BOOT_AUTO, "console=ttyS0 quiet", mods, 2};

	vm_init(&v, 16 * MiB, 0);
	assert_int_equal(load(&v, img, len, &a, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_MULTIBOOT);
	assert_int_equal(e.eip, 0x100010);
	assert_int_equal(e.eax, MB_MAGIC);
	assert_int_equal(e.ebx, INFO);
	assert_int_equal(e.image_start, 0x100000);
	assert_int_equal(e.image_end, 0x200040);
	assert_segments(&v, &s);

	/* multiboot_info, at the offsets of the 0.6.96 specification */
	uint32_t flags = g32(&v, INFO + 0);
	assert_int_equal(flags, (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6) | (1u << 9));
	assert_int_equal(g32(&v, INFO + 4), 639);                    /* mem_lower KiB */
	assert_int_equal(g32(&v, INFO + 8), (16 * MiB - MiB) >> 10); /* mem_upper KiB */
	assert_gstr(&v, g32(&v, INFO + 16), "console=ttyS0 quiet");
	assert_int_equal(g32(&v, INFO + 20), 2); /* mods_count */
	uint32_t mods_addr = g32(&v, INFO + 24);
	uint64_t prev_end = e.image_end;
	for (unsigned int i = 0; i < 2; i++) {
		uint32_t start = g32(&v, mods_addr + 16 * i), end = g32(&v, mods_addr + 16 * i + 4);
		assert_int_equal(start % 4096, 0);
		assert_true(start >= prev_end);
		assert_int_equal(end - start, mods[i].len);
		assert_memory_equal(gp(&v, start, mods[i].len), mods[i].data, mods[i].len);
		assert_gstr(&v, g32(&v, mods_addr + 16 * i + 8),
		            mods[i].string ? mods[i].string : "");
		assert_int_equal(g32(&v, mods_addr + 16 * i + 12), 0);
		prev_end = end;
	}
	/* the memory map: size field of 20, the next entry 24 bytes on */
	uint32_t mmap_len = g32(&v, INFO + 44), mmap = g32(&v, INFO + 48);
	const uint64_t want[3][3] = {
	        {0, 0x9fc00, 1},
	        {0x9fc00, 0x100000 - 0x9fc00, 2},
	        {0x100000, 15 * MiB, 1},
	};
	assert_int_equal(mmap_len, 3 * 24);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(g32(&v, mmap + 24 * i), 20);
		assert_int_equal(g64(&v, mmap + 24 * i + 4), want[i][0]);
		assert_int_equal(g64(&v, mmap + 24 * i + 12), want[i][1]);
		assert_int_equal(g32(&v, mmap + 24 * i + 20), want[i][2]);
	}
	assert_gstr(&v, g32(&v, INFO + 64), "corevm");
	/* every boot structure lies in the boot-info area */
	assert_true(mods_addr >= INFO && mods_addr + 32 <= CVM_GUEST_BOOTINFO_END);
	assert_true(mmap >= INFO && mmap + mmap_len <= CVM_GUEST_BOOTINFO_END);
	/* nothing was written outside the image, the modules and the boot data */
	assert_true(all_poison(&v, 0, CVM_GUEST_BOOTINFO));
	assert_true(all_poison(&v, 0x102000, 0x200000 - 0x102000));
	vm_free(&v);
	free(img);
}

static void test_multiboot_elf64_high_memory(void **state)
{
	struct tb_elf s = {.is64 = true, .entry = 0xffffffff80100020ull, .multiboot = true};
	s.seg[0] = (struct tb_seg){
	        .paddr = 0x100000, .vaddr = 0xffffffff80100000ull, .filesz = 0x200, .memsz = 0x200};
	s.nseg = 1;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	struct cvm_boot_entry e;

	vm_init(&v, 4 * MiB, 2 * MiB);
	assert_int_equal(load(&v, img, len, NULL, &e), 0);
	assert_int_equal(e.eip, 0x100020); /* e_entry translated through p_vaddr */
	assert_segments(&v, &s);
	uint32_t mmap = g32(&v, INFO + 48);
	assert_int_equal(g32(&v, INFO + 44), 4 * 24);
	assert_int_equal(g64(&v, mmap + 3 * 24 + 4), 4 * GiB);
	assert_int_equal(g64(&v, mmap + 3 * 24 + 12), 2 * MiB);
	assert_int_equal(g32(&v, mmap + 3 * 24 + 20), 1);
	assert_gstr(&v, g32(&v, INFO + 16), ""); /* no command line: empty string */
	assert_int_equal(g32(&v, INFO + 20), 0);
	vm_free(&v);
	free(img);
}

/* The layout of a large guest: RAM to 3 GiB, the rest above 4 GiB (mapped, not touched). */
static void test_memory_map_large_guest(void **state)
{
	struct tb_elf s = mb_elf32();
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v = {.mapped = true, .low_size = 3 * GiB, .high_size = 1 * GiB};
	struct cvm_boot_entry e;

	v.low = mmap(NULL, v.low_size, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	v.high = mmap(NULL, v.high_size, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v.low == MAP_FAILED || v.high == MAP_FAILED)
		skip(); /* address space limits (e.g. ulimit -v): nothing to check */
	v.gm.region[0] = (struct cvm_gmem_region){0, v.low_size, v.low};
	v.gm.region[1] = (struct cvm_gmem_region){4 * GiB, v.high_size, v.high};
	v.gm.nregions = 2;
	v.gm.ram_size = 4 * GiB;
	assert_int_equal(load(&v, img, len, NULL, &e), 0);
	assert_int_equal(g32(&v, INFO + 8), (3 * GiB - MiB) >> 10);
	uint32_t mmap = g32(&v, INFO + 48);
	const uint64_t want[4][3] = {
	        {0, 0x9fc00, 1},
	        {0x9fc00, 0x60400, 2},
	        {MiB, 3 * GiB - MiB, 1},
	        {4 * GiB, GiB, 1},
	};
	assert_int_equal(g32(&v, INFO + 44), 4 * 24);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(g64(&v, mmap + 24 * i + 4), want[i][0]);
		assert_int_equal(g64(&v, mmap + 24 * i + 12), want[i][1]);
		assert_int_equal(g32(&v, mmap + 24 * i + 20), want[i][2]);
	}
	vm_free(&v);
	free(img);
}

/* A raw (non-ELF) image loaded by the multiboot address fields (flag 16). */
static void test_multiboot_address_fields(void **state)
{
	uint8_t img[0x300] = {0};
	struct vm v;
	struct cvm_boot_entry e;

	/* header at file offset 0x40 = load_addr + 0x40; file bytes from offset 0 */
	tb_put_mb_header(img + 0x40, 1u << 16);
	tb_put_le32(img + 0x40 + 12, 0x100040); /* header_addr */
	tb_put_le32(img + 0x40 + 16, 0x100000); /* load_addr */
	tb_put_le32(img + 0x40 + 20, 0x100200); /* load_end_addr */
	tb_put_le32(img + 0x40 + 24, 0x101000); /* bss_end_addr */
	tb_put_le32(img + 0x40 + 28, 0x100080); /* entry_addr */
	for (size_t i = 0x80; i < sizeof(img); i++)
		img[i] = (uint8_t)i;
	vm_init(&v, 8 * MiB, 0);
	assert_int_equal(load(&v, img, sizeof(img), NULL, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_MULTIBOOT);
	assert_int_equal(e.eip, 0x100080);
	assert_int_equal(e.image_start, 0x100000);
	assert_int_equal(e.image_end, 0x101000);
	assert_memory_equal(gp(&v, 0x100000, 0x200), img, 0x200);
	for (uint64_t a = 0x100200; a < 0x101000; a++)
		assert_int_equal(*gp(&v, a, 1), 0);
	assert_true(all_poison(&v, 0x101000, 0x1000));

	/* load_end_addr 0 loads to the end of the file; bss_end_addr 0 means no bss */
	tb_put_le32(img + 0x40 + 20, 0);
	tb_put_le32(img + 0x40 + 24, 0);
	tb_put_le32(img + 0x40 + 8, (uint32_t) - (0x1BADB002u + (1u << 16)));
	assert_int_equal(load(&v, img, sizeof(img), NULL, &e), 0);
	assert_int_equal(e.image_end, 0x100000 + sizeof(img));
	vm_free(&v);
}

static void test_pvh_elf64(void **state)
{
	struct tb_elf s = pvh_elf64();
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	struct cvm_boot_entry e;
	static uint8_t initrd[3 * 4096 + 17];
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i * 13);
	const struct cvm_module_spec mods[2] = {
	        {initrd, sizeof(initrd), "initrd"},
	        {(const uint8_t *)"xyz", 3, NULL},
	};
	struct load_args a = {CVM_BOOT_AUTO, "root=/dev/null", mods, 2};

	vm_init(&v, 16 * MiB, 1 * MiB);
	assert_int_equal(load(&v, img, len, &a, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_PVH);
	assert_int_equal(e.eip, 0x100040);
	assert_int_equal(e.eax, 0);
	assert_int_equal(e.ebx, INFO);
	assert_segments(&v, &s);

	/* hvm_start_info version 1 */
	assert_int_equal(g32(&v, INFO + 0), 0x336ec578);
	assert_int_equal(g32(&v, INFO + 4), 1);
	assert_int_equal(g32(&v, INFO + 8), 0);
	assert_int_equal(g32(&v, INFO + 12), 2);
	assert_gstr(&v, g64(&v, INFO + 24), "root=/dev/null");
	assert_int_equal(g64(&v, INFO + 32), 0); /* rsdp */
	uint64_t mods_at = g64(&v, INFO + 16), map = g64(&v, INFO + 40);
	assert_int_equal(mods_at % 8, 0);
	uint64_t prev_end = e.image_end;
	for (unsigned int i = 0; i < 2; i++) {
		uint64_t at = g64(&v, mods_at + 32 * i);
		assert_int_equal(at % 4096, 0);
		assert_true(at >= prev_end);
		assert_int_equal(g64(&v, mods_at + 32 * i + 8), mods[i].len);
		assert_memory_equal(gp(&v, at, mods[i].len), mods[i].data, mods[i].len);
		assert_gstr(&v, g64(&v, mods_at + 32 * i + 16),
		            mods[i].string ? mods[i].string : "");
		assert_int_equal(g64(&v, mods_at + 32 * i + 24), 0);
		prev_end = at + mods[i].len;
	}
	const uint64_t want[4][3] = {
	        {0, 0x9fc00, 1},
	        {0x9fc00, 0x60400, 2},
	        {MiB, 15 * MiB, 1},
	        {4 * GiB, MiB, 1},
	};
	assert_int_equal(g32(&v, INFO + 48), 4);
	assert_int_equal(map % 8, 0);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(g64(&v, map + 24 * i), want[i][0]);
		assert_int_equal(g64(&v, map + 24 * i + 8), want[i][1]);
		assert_int_equal(g32(&v, map + 24 * i + 16), want[i][2]);
		assert_int_equal(g32(&v, map + 24 * i + 20), 0);
	}
	vm_free(&v);
	free(img);
}

/* ELF32 PVH with 8-byte aligned notes and an 8-byte descriptor (as 64-bit Linux has). */
static void test_pvh_note_variants(void **state)
{
	static const uint8_t desc8[8] = {0x00, 0x01, 0x10, 0x00, 0, 0, 0, 0}; /* 0x100100 */
	struct tb_elf s = {.is64 = false, .entry = 0x100000, .note_align = 8};
	s.seg[0] = (struct tb_seg){.paddr = 0x100000, .filesz = 0x200, .memsz = 0x200};
	s.nseg = 1;
	s.note[0] = (struct tb_note){"Linux", 1, "12345", 5};
	s.note[1] = (struct tb_note){"Xen", 18, desc8, 8};
	s.nnote = 2;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	struct cvm_boot_entry e;

	vm_init(&v, 4 * MiB, 0);
	assert_int_equal(load(&v, img, len, NULL, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_PVH);
	assert_int_equal(e.eip, 0x100100);
	assert_int_equal(g32(&v, INFO + 12), 0);
	assert_int_equal(g64(&v, INFO + 16), 0); /* no modules: no list */
	vm_free(&v);
	free(img);
}

static void test_protocol_choice(void **state)
{
	struct tb_elf s = pvh_elf64();
	s.multiboot = true;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	struct cvm_boot_entry e;
	struct load_args a = {0};

	vm_init(&v, 4 * MiB, 0);
	assert_int_equal(load(&v, img, len, &a, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_PVH); /* both: PVH first, as QEMU */
	a.protocol = CVM_BOOT_MULTIBOOT;
	assert_int_equal(load(&v, img, len, &a, &e), 0);
	assert_int_equal(e.protocol, CVM_BOOT_MULTIBOOT);
	assert_int_equal(e.eax, MB_MAGIC);
	assert_int_equal(e.eip, 0x100000); /* e_entry through p_vaddr */
	free(img);

	/* explicit protocols the image lacks */
	s = pvh_elf64();
	img = tb_build(&s, &len, NULL);
	a.protocol = CVM_BOOT_MULTIBOOT;
	expect_fail(&v, img, len, &a, -ENOEXEC, "no multiboot header");
	free(img);
	s = mb_elf32();
	img = tb_build(&s, &len, NULL);
	a.protocol = CVM_BOOT_PVH;
	expect_fail(&v, img, len, &a, -ENOEXEC, "no PVH entry note");
	a.protocol = 7;
	expect_fail(&v, img, len, &a, -EINVAL, "unknown boot protocol");
	free(img);
	vm_free(&v);
}

/* ---- images that are not what they should be ---- */

static void test_no_protocol(void **state)
{
	struct tb_elf s = mb_elf32();
	s.multiboot = false;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	static const char text[] = "#!/bin/sh\necho this is not a kernel\n";
	struct load_args pvh = {.protocol = CVM_BOOT_PVH};

	vm_init(&v, 4 * MiB, 0);
	expect_fail(&v, img, len, NULL, -ENOEXEC, "no PVH entry note and no multiboot header");
	expect_fail(&v, (const uint8_t *)text, sizeof(text), NULL, -ENOEXEC, "not an ELF file");
	expect_fail(&v, (const uint8_t *)text, sizeof(text), &pvh, -ENOEXEC, "not an ELF file");
	expect_fail(&v, img, 0, NULL, -EINVAL, "empty image");
	expect_fail(&v, NULL, 10, NULL, -EINVAL, "empty image");
	/* a multiboot header without address fields in a non-ELF file */
	uint8_t raw[64] = {0};
	tb_put_mb_header(raw + 8, 0);
	expect_fail(&v, raw, sizeof(raw), NULL, -EINVAL, "no load addresses");
	assert_true(all_poison(&v, 0, 4 * MiB));
	vm_free(&v);
	free(img);
}

/* Every prefix of a valid image is refused, with nothing written to the guest. */
static void test_truncated(void **state)
{
	struct tb_elf s = pvh_elf64();
	s.multiboot = true;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;

	vm_init(&v, 4 * MiB, 0);
	for (size_t n = 1; n < len; n++) {
		uint8_t *cut = malloc(n); /* exact size, so ASan sees any over-read */
		memcpy(cut, img, n);
		int rc = load(&v, cut, n, NULL, NULL);
		if (rc != -EINVAL && rc != -ENOEXEC)
			fail_msg("prefix of %zu bytes: rc %d (%s)", n, rc, errbuf);
		free(cut);
	}
	assert_true(all_poison(&v, 0, 4 * MiB));
	expect_fail(&v, img, 40, NULL, -EINVAL, "ELF header cut short");
	vm_free(&v);
	free(img);
}

/* Rewrites one field of the ELF64 header (offset, width) of a copy of the image. */
static void patch(uint8_t *img, size_t off, unsigned int width, uint64_t val)
{
	if (width == 8)
		tb_put_le64(img + off, val);
	else if (width == 4)
		tb_put_le32(img + off, (uint32_t)val);
	else if (width == 2)
		img[off] = (uint8_t)val, img[off + 1] = (uint8_t)(val >> 8);
	else
		img[off] = (uint8_t)val;
}

/* One corruption of a valid image and the refusal it must cause. */
struct patch_case {
	size_t off;
	unsigned int width;
	uint64_t val;
	int rc;
	const char *words;
};

/* Applies each case to a fresh copy of orig (allocated to size, for ASan) and checks it. */
static void run_patch_cases(struct vm *v, const uint8_t *orig, size_t len,
                            const struct patch_case *cases, size_t n)
{
	uint8_t *img = malloc(len);

	for (size_t i = 0; i < n; i++) {
		memcpy(img, orig, len);
		patch(img, cases[i].off, cases[i].width, cases[i].val);
		int rc = load(v, img, len, NULL, NULL);
		if (rc != cases[i].rc || !strstr(errbuf, cases[i].words))
			fail_msg("case %zu: rc %d \"%s\", want %d \"%s\"", i, rc, errbuf,
			         cases[i].rc, cases[i].words);
	}
	free(img);
}

static void test_hostile_headers(void **state)
{
	struct tb_elf s = pvh_elf64();
	struct tb_layout lay;
	size_t len;
	uint8_t *orig = tb_build(&s, &len, &lay);
	struct vm v;
	const size_t ph0 = lay.phoff; /* first program header (PT_LOAD) */
	const struct patch_case cases[] = {
	        {EI_CLASS, 1, 3, -EINVAL, "ELF class 3"},
	        {EI_DATA, 1, ELFDATA2MSB, -EINVAL, "not little endian"},
	        {EI_VERSION, 1, 0, -EINVAL, "identification version"},
	        {16, 2, ET_DYN, -EINVAL, "not an executable"},
	        {18, 2, EM_386, -EINVAL, "machine 3"},
	        {20, 4, 2, -EINVAL, "ELF version 2"},
	        {52, 2, 20, -EINVAL, "header size 20"},
	        {32, 8, len, -EINVAL, "program header table"},            /* e_phoff */
	        {32, 8, UINT64_MAX - 8, -EINVAL, "program header table"}, /* overflow */
	        {56, 2, 0x7fff, -EINVAL, "program header table"},         /* e_phnum */
	        {56, 2, 0, -EINVAL, "no program headers"},
	        {56, 2, 0xffff, -EINVAL, "PN_XNUM"},
	        {54, 2, 16, -EINVAL, "entry size 16"},                     /* e_phentsize */
	        {ph0 + 8, 8, len - 16, -EINVAL, "outside the file"},       /* p_offset */
	        {ph0 + 8, 8, UINT64_MAX - 4, -EINVAL, "outside the file"}, /* offset + size wraps */
	        {ph0 + 40, 8, 0x10, -EINVAL, "exceeds memory size"},       /* p_memsz */
	        {ph0 + 24, 8, UINT64_MAX - 0x100, -EINVAL, "wraps"},       /* p_paddr */
	        {ph0 + 24, 8, 0x2000000, -ENOSPC, "outside guest RAM"},    /* beyond 16 MiB */
	        {ph0 + 24, 8, 0x7000, -EINVAL, "AP trampoline area"},
	        {ph0 + 24, 8, 0x20000, -EINVAL, "boot-info area"},
	        {ph0 + 24, 8, 0x9f000, -EINVAL, "legacy VGA/BIOS hole"},
	        {ph0 + 24, 8, 0xc0000000, -EINVAL, "MMIO hole"},
	        {ph0 + 24, 8, 0x100000000, -EINVAL, "above 4 GiB"},
	};

	vm_init(&v, 16 * MiB, 1 * MiB);
	assert_int_equal(load(&v, orig, len, NULL, NULL), 0);
	run_patch_cases(&v, orig, len, cases, sizeof(cases) / sizeof(cases[0]));
	vm_free(&v);
	free(orig);
}

static void test_hostile_segments(void **state)
{
	struct vm v;
	size_t len;
	uint8_t *img;

	vm_init(&v, 16 * MiB, 0);
	/* overlapping segments */
	struct tb_elf s = mb_elf32();
	s.seg[1].paddr = 0x101000;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "overlap");
	free(img);
	/* entry point outside every segment */
	s = mb_elf32();
	s.entry = 0x300000;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "entry point 0x300000 is not inside");
	free(img);
	/* ELF32 segment running past 4 GiB */
	s = mb_elf32();
	s.seg[1] = (struct tb_seg){.paddr = 0xfffff000, .filesz = 0x10, .memsz = 0x2000};
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "wraps");
	free(img);
	/*
	 * Found while fuzzing (fuzz_loader): an ELF64 segment ending exactly at 2^64
	 * passed the wrap check, its end wrapped to 0 and the placement accepted it;
	 * the loader then copied to a NULL host pointer. With the entry in another
	 * segment, for PVH and for multiboot.
	 */
	s = pvh_elf64();
	s.seg[1] = (struct tb_seg){.paddr = -(uint64_t)0x2000, .filesz = 0x10, .memsz = 0x2000};
	s.nseg = 2;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "above 4 GiB");
	free(img);
	s.multiboot = true;
	s.entry = 0x100040;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "above 4 GiB");
	free(img);
	/* more PT_LOAD segments than the loader takes */
	s = mb_elf32();
	s.nseg = 65;
	for (unsigned int i = 0; i < s.nseg; i++)
		s.seg[i] = (struct tb_seg){.paddr = 0x100000 + i * 0x1000, .filesz = 4, .memsz = 4};
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "more than 64 loadable segments");
	free(img);
	/* no segment with memory at all */
	s = mb_elf32();
	s.nseg = 1;
	s.seg[0].filesz = s.seg[0].memsz = 0;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "no loadable segment");
	free(img);
	/* a segment too large for RAM is ENOSPC, i.e. "--mem too small" */
	s = mb_elf32();
	s.seg[1].memsz = 32 * MiB;
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -ENOSPC, "outside guest RAM (16 MiB)");
	free(img);
	assert_true(all_poison(&v, 0, 16 * MiB));
	vm_free(&v);
}

static void test_hostile_notes(void **state)
{
	struct tb_elf s = pvh_elf64();
	struct tb_layout lay;
	size_t len;
	uint8_t *orig = tb_build(&s, &len, &lay);
	uint8_t *img;
	struct vm v;
	/* the Xen note follows the 12 + 4 + 8 = 24-byte GNU note */
	const size_t xen = lay.note_off + 24;
	const size_t note_ph = lay.phoff + 1 * lay.phentsize;
	const struct patch_case cases[] = {
	        {lay.note_off + 0, 4, 0xfffffff0u, -EINVAL, "runs past its segment"}, /* namesz */
	        {lay.note_off + 4, 4, 0xffffffffu, -EINVAL, "runs past its segment"}, /* descsz */
	        {xen + 4, 4, 100, -EINVAL, "runs past its segment"},
	        {note_ph + 32, 8, 30, -EINVAL, "cut short"}, /* p_filesz ends mid-header */
	        {note_ph + 8, 8, len - 8, -EINVAL, "outside the file"}, /* p_offset */
	        {xen + 4, 4, 2, -EINVAL, "2-byte descriptor"},
	};

	vm_init(&v, 4 * MiB, 0);
	run_patch_cases(&v, orig, len, cases, sizeof(cases) / sizeof(cases[0]));
	free(orig);
	/* an 8-byte entry with high bits set, and an entry outside the image */
	static const uint8_t big[8] = {0, 0, 0x10, 0, 1, 0, 0, 0};
	static const uint8_t outside[4] = {0, 0, 0x20, 0};
	s.note[1] = (struct tb_note){"Xen", 18, big, 8};
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "not a 32-bit address");
	free(img);
	s.note[1] = (struct tb_note){"Xen", 18, outside, 4};
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -EINVAL, "PVH entry point 0x200000 is not inside");
	free(img);
	/* a note of the right type under another name is not the PVH note */
	s.note[1] = (struct tb_note){"Xem", 18, pvh_entry_desc, 4};
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, NULL, -ENOEXEC, "no PVH entry note");
	free(img);
	assert_true(all_poison(&v, 0, 4 * MiB));
	vm_free(&v);
}

static void test_multiboot_header_checks(void **state)
{
	struct tb_elf s = mb_elf32();
	struct tb_layout lay;
	size_t len;
	uint8_t *img = tb_build(&s, &len, &lay);
	struct vm v;
	struct cvm_boot_entry e;

	vm_init(&v, 4 * MiB, 0);
	/* bad checksum */
	tb_put_le32(img + lay.mb_off + 8, tb_le32(img + lay.mb_off + 8) + 1);
	expect_fail(&v, img, len, NULL, -ENOEXEC, "bad checksum");
	/* misaligned by 2 bytes */
	memset(img + lay.mb_off, 0, 48);
	tb_put_mb_header(img + lay.mb_off + 2, 3);
	expect_fail(&v, img, len, NULL, -ENOEXEC, "no multiboot header");
	free(img);
	/* beyond the first 8 KiB: push it back with a big first segment's file bytes */
	s = mb_elf32();
	s.multiboot = false;
	s.seg[0].filesz = 0x3000;
	s.seg[0].memsz = 0x3000;
	img = tb_build(&s, &len, &lay);
	tb_put_mb_header(img + lay.seg_off[0] + 0x2100, 3);
	expect_fail(&v, img, len, NULL, -ENOEXEC, "no multiboot header");
	/* ... while at 8 KiB - 12 it is found */
	size_t at = 8192 - 12;
	assert_true(at > lay.seg_off[0]);
	tb_put_mb_header(img + at, 3);
	assert_int_equal(load(&v, img, len, NULL, &e), 0);
	free(img);
	/* unknown required flag bits are refused; unknown optional ones and video are not */
	const struct {
		uint32_t flags;
		int rc;
	} fl[] = {{1u << 3, -EINVAL}, {1u << 15, -EINVAL}, {1u << 20, 0}, {1u << 2, 0}, {0, 0}};
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		s = mb_elf32();
		s.mb_flags = fl[i].flags;
		img = tb_build(&s, &len, NULL);
		assert_int_equal(load(&v, img, len, NULL, NULL), fl[i].rc);
		if (fl[i].rc)
			assert_non_null(strstr(errbuf, "unknown required bits"));
		free(img);
	}
	/* a 48-byte header (video flag) cut by the end of the file */
	uint8_t small[24] = {0};
	tb_put_mb_header(small + 8, 1u << 2);
	expect_fail(&v, small, sizeof(small), NULL, -EINVAL, "cut short");
	vm_free(&v);
}

static void test_multiboot_address_fields_hostile(void **state)
{
	uint8_t img[0x300] = {0};
	struct vm v;
	const struct {
		uint32_t header, load, load_end, bss_end, entry;
		int rc;
		const char *words;
	} cases[] = {
	        {0x100040, 0x100041, 0, 0, 0x100080, -EINVAL, "do not match"}, /* header < load */
	        {0x200040, 0x100000, 0, 0, 0x100080, -EINVAL, "do not match"}, /* before the file */
	        {0x100040, 0x100000, 0x0fffff, 0, 0x100080, -EINVAL, "below load_addr"},
	        {0x100040, 0x100000, 0x100400, 0, 0x100080, -EINVAL, "the file has"},
	        {0x100040, 0x100000, 0x100200, 0x100100, 0x100080, -EINVAL, "bss_end_addr"},
	        {0x100040, 0x100000, 0, 0, 0x200000, -EINVAL, "entry_addr 0x200000 is not inside"},
	        {0xffffff40, 0xffffff00, 0, 0, 0xffffff80, -EINVAL, "wraps past 4 GiB"},
	        {0x8040, 0x8000, 0, 0, 0x8080, -EINVAL, "AP trampoline area"},
	        {0x7000040, 0x7000000, 0, 0, 0x7000080, -ENOSPC, "outside guest RAM"},
	};

	vm_init(&v, 8 * MiB, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tb_put_mb_header(img + 0x40, 1u << 16);
		tb_put_le32(img + 0x40 + 12, cases[i].header);
		tb_put_le32(img + 0x40 + 16, cases[i].load);
		tb_put_le32(img + 0x40 + 20, cases[i].load_end);
		tb_put_le32(img + 0x40 + 24, cases[i].bss_end);
		tb_put_le32(img + 0x40 + 28, cases[i].entry);
		int rc = load(&v, img, sizeof(img), NULL, NULL);
		if (rc != cases[i].rc || !strstr(errbuf, cases[i].words))
			fail_msg("case %zu: rc %d \"%s\", want %d \"%s\"", i, rc, errbuf,
			         cases[i].rc, cases[i].words);
	}
	assert_true(all_poison(&v, 0, 8 * MiB));
	vm_free(&v);
}

/* ---- boot data that does not fit ---- */

static void test_boot_data_limits(void **state)
{
	struct tb_elf s = mb_elf32();
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	size_t area = CVM_GUEST_BOOTINFO_END - CVM_GUEST_BOOTINFO;
	char *huge = malloc(area + 1);
	memset(huge, 'c', area);
	huge[area] = '\0';
	struct load_args a = {CVM_BOOT_AUTO, huge, NULL, 0};

	vm_init(&v, 16 * MiB, 0);
	expect_fail(&v, img, len, &a, -ENOSPC, "command line of");
	a.protocol = CVM_BOOT_PVH;
	free(img);
	s = pvh_elf64();
	img = tb_build(&s, &len, NULL);
	expect_fail(&v, img, len, &a, -ENOSPC, "command line of");
	/* the longest command line that fits still loads (PVH: 56 + 3 * 24 bytes before it) */
	huge[area - 56 - 3 * 24 - 1] = '\0';
	assert_int_equal(load(&v, img, len, &a, NULL), 0);
	assert_int_equal(strlen((const char *)gp(&v, g64(&v, INFO + 24), 1)), area - 129);
	free(huge);

	/* too many modules for the module list */
	unsigned int n = (unsigned int)(area / 32) + 1;
	struct cvm_module_spec *mods = calloc(n, sizeof(*mods));
	a = (struct load_args){CVM_BOOT_PVH, NULL, mods, n};
	expect_fail(&v, img, len, &a, -ENOSPC, "module list");
	/* fewer, but their strings do not fit */
	a.nmodules = n / 2;
	for (unsigned int i = 0; i < a.nmodules; i++)
		mods[i].string =
		        "a module string long enough that half the list overflows the area";
	expect_fail(&v, img, len, &a, -ENOSPC, "module string");
	/* a module larger than RAM */
	mods[0] = (struct cvm_module_spec){img, 64 * MiB, "big"};
	a.nmodules = 1;
	expect_fail(&v, img, len, &a, -ENOSPC, "module 0 (67108864 bytes) does not fit");
	/* module data missing */
	mods[0].data = NULL;
	expect_fail(&v, img, len, &a, -EINVAL, "no data");
	a.modules = NULL;
	expect_fail(&v, img, len, &a, -EINVAL, "without a module list");
	free(mods);
	free(img);
	vm_free(&v);
}

/* Modules skip the reserved areas: an image in low memory puts them past the boot-info area. */
static void test_module_placement_low_image(void **state)
{
	struct tb_elf s = {.is64 = false, .entry = 0x1000, .multiboot = true};
	s.seg[0] = (struct tb_seg){.paddr = 0x1000, .filesz = 0x100, .memsz = 0x100};
	s.nseg = 1;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;
	static uint8_t m[0x7000];
	const struct cvm_module_spec mods[3] = {
	        {m, 0x5800, "a"}, {m, 0x800, "b"}, {m, 0x7000, "c"}};
	struct load_args a = {CVM_BOOT_MULTIBOOT, NULL, mods, 3};

	vm_init(&v, 2 * MiB, 0);
	assert_int_equal(load(&v, img, len, &a, NULL), 0);
	uint32_t mods_addr = g32(&v, INFO + 24);
	assert_int_equal(g32(&v, mods_addr), 0x2000);                       /* below 0x8000 */
	assert_int_equal(g32(&v, mods_addr + 16), CVM_GUEST_BOOTINFO_END);  /* past boot info */
	assert_int_equal(g32(&v, mods_addr + 32), CVM_GUEST_HIGHMEM_START); /* past the hole */
	free(img);
	vm_free(&v);
}

static void test_guest_memory_limits(void **state)
{
	struct tb_elf s = mb_elf32();
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	struct vm v;

	/* RAM that does not reach the boot-info area */
	vm_init(&v, 0x8000, 0);
	expect_fail(&v, img, len, NULL, -ENOSPC, "boot-info area");
	vm_free(&v);
	/* RAM that ends below the image */
	vm_init(&v, MiB + 0x1000, 0);
	expect_fail(&v, img, len, NULL, -ENOSPC, "outside guest RAM");
	vm_free(&v);
	/* a malformed memory description and missing arguments */
	vm_init(&v, 4 * MiB, 0);
	v.gm.nregions = CVM_GMEM_MAX_REGIONS + 1;
	expect_fail(&v, img, len, NULL, -EINVAL, "guest memory");
	v.gm.nregions = 1;
	struct cvm_boot_entry e;
	assert_int_equal(cvm_load_guest(&v.gm, NULL, &e, NULL, 0), -EINVAL);
	char tiny[8];
	struct cvm_boot_spec spec = {img, 10, CVM_BOOT_AUTO, NULL, NULL, 0};
	assert_int_equal(cvm_load_guest(&v.gm, &spec, &e, tiny, sizeof(tiny)), -EINVAL);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1); /* truncated, terminated */
	free(img);
	vm_free(&v);
}

/* ---- the AP initial-state note (CVM_NOTE_AP_INIT) ---- */

/* A valid 64-bit note for the PVH image of pvh_elf64() in 4 MiB of RAM. */
static struct cvm_ap_init_note ap_note(void)
{
	return (struct cvm_ap_init_note){
	        .version = CVM_AP_INIT_VERSION,
	        .mode = CVM_AP_MODE_LONG64,
	        .entry = 0x100800,
	        .stack_top = 0x201000,
	        .stack_stride = 0x1000,
	        .nr_stacks = 7,
	        .cr3 = 0x102000,
	        .gdt_base = 0x101000,
	        .gdt_limit = 31,
	        .code_sel = 0x18,
	        .data_sel = 0x10,
	};
}

/* Loads pvh_elf64() with `n` as its AP note into 4 MiB: the load's result. */
static int load_with_note(const struct cvm_ap_init_note *n, size_t descsz, struct cvm_boot_entry *e)
{
	struct tb_elf s = pvh_elf64();
	struct vm v;
	size_t len;
	int rc;

	s.note[2] = (struct tb_note){CVM_NOTE_NAME, CVM_NOTE_AP_INIT, n, (uint32_t)descsz};
	s.nnote = 3;
	uint8_t *img = tb_build(&s, &len, NULL);
	vm_init(&v, 4 * MiB, 0);
	rc = load(&v, img, len, NULL, e);
	if (rc) /* a refused note: nothing written, like any refused image */
		assert_true(all_poison(&v, 0, 4 * MiB));
	vm_free(&v);
	free(img);
	return rc;
}

static void test_ap_init_note(void **state)
{
	struct cvm_ap_init_note n = ap_note();
	struct cvm_boot_entry e;

	(void)state;
	assert_int_equal(load_with_note(&n, sizeof(n), &e), 0);
	assert_true(e.has_ap_init);
	assert_memory_equal(&e.ap_init, &n, sizeof(n));
	/* 32-bit mode: no page tables, everything below 4 GiB */
	n.mode = CVM_AP_MODE_PROT32;
	n.cr3 = 0;
	n.gdt_base = n.gdt_limit = 0;
	n.code_sel = 0x08;
	assert_int_equal(load_with_note(&n, sizeof(n), &e), 0);
	assert_true(e.has_ap_init);
	assert_int_equal(e.ap_init.mode, CVM_AP_MODE_PROT32);
	/* no note: none reported */
	struct tb_elf s = pvh_elf64();
	struct vm v;
	size_t len;
	uint8_t *img = tb_build(&s, &len, NULL);
	vm_init(&v, 4 * MiB, 0);
	e.has_ap_init = true;
	assert_int_equal(load(&v, img, len, NULL, &e), 0);
	assert_false(e.has_ap_init);
	vm_free(&v);
	free(img);
}

/* Each case breaks one field of a valid note; the load must fail naming it. */
static void test_ap_init_note_hostile(void **state)
{
	static const struct {
		size_t off, size;
		uint64_t value;
		const char *words;
	} cases[] = {
	        {offsetof(struct cvm_ap_init_note, version), 4, 2, "version 2"},
	        {offsetof(struct cvm_ap_init_note, mode), 4, 0, "mode 0"},
	        {offsetof(struct cvm_ap_init_note, mode), 4, 3, "mode 3"},
	        {offsetof(struct cvm_ap_init_note, flags), 4, 1, "must be 0"},
	        {offsetof(struct cvm_ap_init_note, reserved), 2, 1, "must be 0"},
	        {offsetof(struct cvm_ap_init_note, code_sel), 2, 0, "selectors"},
	        {offsetof(struct cvm_ap_init_note, data_sel), 2, 0x13, "selectors"},
	        {offsetof(struct cvm_ap_init_note, code_sel), 2, 0x20, "GDT limit"},
	        {offsetof(struct cvm_ap_init_note, gdt_limit), 2, 30, "GDT limit"},
	        {offsetof(struct cvm_ap_init_note, nr_stacks), 4, 0, "0 stacks"},
	        {offsetof(struct cvm_ap_init_note, nr_stacks), 4, 100000, "100000 stacks"},
	        {offsetof(struct cvm_ap_init_note, stack_stride), 8, 8, "stride"},
	        {offsetof(struct cvm_ap_init_note, stack_stride), 8, 0x1008, "stride"},
	        {offsetof(struct cvm_ap_init_note, stack_stride), 8, 1ull << 31, "stride"},
	        {offsetof(struct cvm_ap_init_note, stack_top), 8, 0x201004, "aligned"},
	        {offsetof(struct cvm_ap_init_note, stack_top), 8, 0x800, "wrap"},
	        {offsetof(struct cvm_ap_init_note, stack_top), 8, 0xfffffffffffff000ull, "wrap"},
	        {offsetof(struct cvm_ap_init_note, stack_top), 8, 0x400000, "not inside guest RAM"},
	        {offsetof(struct cvm_ap_init_note, entry), 8, 0x200000, "not inside a loaded"},
	        {offsetof(struct cvm_ap_init_note, entry), 8, 0xffffffff81000000ull,
	         "not inside a loaded"},
	        {offsetof(struct cvm_ap_init_note, cr3), 8, 0, "page table root"},
	        {offsetof(struct cvm_ap_init_note, cr3), 8, 0x102008, "page table root"},
	        {offsetof(struct cvm_ap_init_note, cr3), 8, 0x4000000, "not inside guest RAM"},
	        {offsetof(struct cvm_ap_init_note, cr3), 8, 0xfffffffffffff000ull,
	         "not inside guest RAM"},
	        {offsetof(struct cvm_ap_init_note, gdt_base), 8, 0x3ffff0, "GDT"},
	        {offsetof(struct cvm_ap_init_note, gdt_base), 8, 0xfffffffffffffff0ull, "GDT"},
	};
	struct cvm_boot_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cvm_ap_init_note n = ap_note();
		memcpy((uint8_t *)&n + cases[i].off, &cases[i].value, cases[i].size);
		assert_int_equal(load_with_note(&n, sizeof(n), &e), -EINVAL);
		if (!strstr(errbuf, cases[i].words))
			fail_msg("case %zu: reason \"%s\" does not mention \"%s\"", i, errbuf,
			         cases[i].words);
	}
	/* 32-bit mode with anything above 4 GiB or page tables */
	struct cvm_ap_init_note n = ap_note();
	n.mode = CVM_AP_MODE_PROT32;
	assert_int_equal(load_with_note(&n, sizeof(n), &e), -EINVAL); /* cr3 set */
	assert_non_null(strstr(errbuf, "32-bit mode"));
	n.cr3 = 0;
	n.gdt_base = 0xfffffff0ull;
	assert_int_equal(load_with_note(&n, sizeof(n), &e), -EINVAL);
	assert_non_null(strstr(errbuf, "32-bit mode"));
	/* descriptor sizes other than 64 bytes */
	n = ap_note();
	assert_int_equal(load_with_note(&n, 60, &e), -EINVAL);
	assert_non_null(strstr(errbuf, "descriptor of 60 bytes"));
	uint8_t big[72] = {0};
	memcpy(big, &n, sizeof(n));
	assert_int_equal(load_with_note((const struct cvm_ap_init_note *)big, sizeof(big), &e),
	                 -EINVAL);
	assert_non_null(strstr(errbuf, "descriptor of 72 bytes"));
	/* the decoder on its own (the fuzz target's entry point): unaligned input, NULL */
	uint8_t buf[65];
	memcpy(buf + 1, &n, sizeof(n));
	struct cvm_ap_init_note out;
	assert_int_equal(cvm_ap_init_decode(buf + 1, sizeof(n), &out, errbuf, sizeof(errbuf)), 0);
	assert_memory_equal(&out, &n, sizeof(n));
	assert_int_equal(cvm_ap_init_decode(NULL, 64, &out, errbuf, sizeof(errbuf)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_multiboot_elf32),
	        cmocka_unit_test(test_multiboot_elf64_high_memory),
	        cmocka_unit_test(test_memory_map_large_guest),
	        cmocka_unit_test(test_multiboot_address_fields),
	        cmocka_unit_test(test_pvh_elf64),
	        cmocka_unit_test(test_pvh_note_variants),
	        cmocka_unit_test(test_protocol_choice),
	        cmocka_unit_test(test_no_protocol),
	        cmocka_unit_test(test_truncated),
	        cmocka_unit_test(test_hostile_headers),
	        cmocka_unit_test(test_hostile_segments),
	        cmocka_unit_test(test_hostile_notes),
	        cmocka_unit_test(test_ap_init_note),
	        cmocka_unit_test(test_ap_init_note_hostile),
	        cmocka_unit_test(test_multiboot_header_checks),
	        cmocka_unit_test(test_multiboot_address_fields_hostile),
	        cmocka_unit_test(test_boot_data_limits),
	        cmocka_unit_test(test_module_placement_low_image),
	        cmocka_unit_test(test_guest_memory_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
