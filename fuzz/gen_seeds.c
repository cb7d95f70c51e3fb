/*
 * Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/seed-*):
 * multiboot and PVH images built with the loader tests' ELF builder, and
 * typical operation sequences in each target's byte-code (fuzz/fuzz_ops.h).
 * usage: fuzz_gen_seeds CORPUS_DIR (make fuzz-seeds)
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arch/x86/guest_abi.h"
#include "core/apic_msg.h"
#include "core/ioapic.h"
#include "core/lapic.h"
#include "core/lifecycle.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/uart16550.h"
#include "fuzz/fuzz_ops.h"
#include "loader/multiboot.h"
#include "loader/pvh.h"
#include "tests/loader/elf_builder.h"

/* A seed being built. */
struct sb {
	uint8_t *p;
	size_t n, cap;
};

static const char *corpus_dir;
static int failures;

static void put(struct sb *b, const void *data, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p) {
			fprintf(stderr, "fuzz_gen_seeds: out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
}

static void u8(struct sb *b, uint8_t v)
{
	put(b, &v, 1);
}

static void u16(struct sb *b, uint16_t v)
{
	u8(b, (uint8_t)v);
	u8(b, (uint8_t)(v >> 8));
}

static void u32(struct sb *b, uint32_t v)
{
	u16(b, (uint16_t)v);
	u16(b, (uint16_t)(v >> 16));
}

static void u64(struct sb *b, uint64_t v)
{
	u32(b, (uint32_t)v);
	u32(b, (uint32_t)(v >> 32));
}

/* An operation with one operand byte. */
static void op1(struct sb *b, uint8_t op, uint8_t x)
{
	u8(b, op);
	u8(b, x);
}

/* Writes the seed to CORPUS_DIR/target/seed-name and empties it. */
static void emit(struct sb *b, const char *target, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", corpus_dir, target);
	if (mkdir(path, 0777) && errno != EEXIST) {
		fprintf(stderr, "fuzz_gen_seeds: mkdir %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/seed-%s", corpus_dir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->n, f) != b->n || fclose(f)) {
		fprintf(stderr, "fuzz_gen_seeds: write %s: %s\n", path, strerror(errno));
		failures++;
	}
	b->n = 0;
}

/* ---- loader: header, then the image ---- */

struct ld_mod {
	uint32_t len;
	const char *string;
};

/* NULL command line or module string: passed to the loader as NULL. */
static void ld_string(struct sb *b, const char *s, uint8_t null_code)
{
	if (!s) {
		u8(b, null_code);
		return;
	}
	u8(b, (uint8_t)strlen(s));
	put(b, s, strlen(s));
}

static void ld_header(struct sb *b, uint8_t layout, const char *cmdline, const struct ld_mod *mods,
                      unsigned int nmods)
{
	u8(b, layout);
	ld_string(b, cmdline, FZ_LOADER_NULL_CMDLINE);
	u8(b, (uint8_t)nmods);
	for (unsigned int i = 0; i < nmods; i++) {
		u32(b, mods[i].len);
		u8(b, (uint8_t)(i * 17));
		ld_string(b, mods[i].string, FZ_LOADER_NULL_STRING);
	}
}

static void ld_image(struct sb *b, const struct tb_elf *e)
{
	size_t len;
	uint8_t *img = tb_build(e, &len, NULL);

	put(b, img, len);
	free(img);
}

static struct tb_elf elf_one(bool is64, uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	struct tb_elf e = {.is64 = is64, .entry = paddr, .nseg = 1};

	e.seg[0] = (struct tb_seg){.paddr = paddr, .filesz = filesz, .memsz = memsz};
	return e;
}

static void pvh_note(struct tb_elf *e, const void *entry, uint32_t size)
{
	e->note[e->nnote++] = (struct tb_note){.name = CVM_PVH_NOTE_NAME,
	                                       .type = CVM_PVH_NOTE_PHYS32,
	                                       .desc = entry,
	                                       .descsz = size};
}

static void seeds_loader(void)
{
	static const struct ld_mod two[] = {{5000, "initrd"}, {0, "empty"}};
	static const struct ld_mod three[] = {{4096, "a"}, {70000, "b c"}, {1, NULL}};
	static const uint32_t entry32 = 0x100000;
	static const uint64_t entry64 = 0x100000;
	struct sb b = {0};
	struct tb_elf e;
	uint8_t raw[512] = {0};

	e = elf_one(false, 0x100000, 256, 4096);
	e.multiboot = true;
	ld_header(&b, 0, "console=ttyS0", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "mb32");

	ld_header(&b, 3, "root=/dev/ram0", two, 2);
	ld_image(&b, &e);
	emit(&b, "loader", "mb32-modules");

	e.mb_flags = CVM_MB_FLAG_PAGE_ALIGN | CVM_MB_FLAG_MEMINFO | CVM_MB_FLAG_VIDEO;
	ld_header(&b, 1, NULL, NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "mb32-video");

	/* ELF64 linked high: the entry is translated through p_vaddr */
	e = elf_one(true, 0x100000, 512, 8192);
	e.seg[0].vaddr = 0xffffffff80100000ull;
	e.entry = 0xffffffff80100010ull;
	e.multiboot = true;
	ld_header(&b, 0, "quiet", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "mb64-high");

	/* two segments and an image in the low 32 KiB */
	e = elf_one(false, 0x1000, 128, 0x1000);
	e.nseg = 2;
	e.seg[1] = (struct tb_seg){.paddr = 0x140000, .filesz = 64, .memsz = 0x3000};
	e.multiboot = true;
	ld_header(&b, 7, "a b c", three, 3);
	ld_image(&b, &e);
	emit(&b, "loader", "mb32-two-segments");

	/* a.out kludge: not ELF, the header's address fields say what to load */
	tb_put_mb_header(raw, CVM_MB_FLAG_ADDRS | CVM_MB_FLAG_MEMINFO);
	tb_put_le32(raw + 12, 0x100000); /* header_addr */
	tb_put_le32(raw + 16, 0x100000); /* load_addr */
	tb_put_le32(raw + 20, 0);        /* load_end_addr: to the end of the file */
	tb_put_le32(raw + 24, 0x104000); /* bss_end_addr */
	tb_put_le32(raw + 28, 0x100040); /* entry_addr */
	ld_header(&b, 0, "kludge", NULL, 0);
	put(&b, raw, sizeof(raw));
	emit(&b, "loader", "mb-aout-kludge");

	e = elf_one(false, 0x100000, 256, 4096);
	pvh_note(&e, &entry32, 4);
	ld_header(&b, 0, "console=hvc0", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh32");

	e = elf_one(true, 0x100000, 256, 0x10000);
	e.nseg = 2;
	e.seg[1] = (struct tb_seg){.paddr = 0x110000, .filesz = 100, .memsz = 0x2000};
	e.note_align = 8;
	pvh_note(&e, &entry64, 8);
	ld_header(&b, 2, "earlyprintk", two, 2);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh64-modules");

	ld_header(&b, 7, "x", three, 3);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh64-four-regions");

	/* both: AUTO takes PVH */
	e = elf_one(false, 0x100000, 256, 4096);
	e.multiboot = true;
	pvh_note(&e, &entry32, 4);
	ld_header(&b, 5, "both", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh-and-mb");

	/* a custom layout: 1 MiB of RAM, a 3 MiB gap, 1 MiB more */
	e = elf_one(false, 0x400000, 256, 4096);
	pvh_note(&e, &(const uint32_t){0x400000}, 4);
	u8(&b, FZ_LOADER_LAYOUT_CUSTOM);
	u8(&b, 1); /* two regions */
	u16(&b, 0), u16(&b, 1023);
	u16(&b, 0x8000u | 3), u16(&b, 1023);
	u8(&b, 0), u8(&b, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh-custom-layout");

	/* AP initial-state notes (docs/protected-state.md): 32-bit with multiboot, 64-bit with PVH */
	static const struct cvm_ap_init_note ap32 = {.version = CVM_AP_INIT_VERSION,
	                                             .mode = CVM_AP_MODE_PROT32,
	                                             .entry = 0x100020,
	                                             .stack_top = 0x120000,
	                                             .stack_stride = 0x1000,
	                                             .nr_stacks = 3,
	                                             .gdt_base = 0x100100,
	                                             .gdt_limit = 0x1f,
	                                             .code_sel = 0x10,
	                                             .data_sel = 0x18};
	struct cvm_ap_init_note ap64 = ap32;
	ap64.mode = CVM_AP_MODE_LONG64;
	ap64.cr3 = 0x102000;
	e = elf_one(false, 0x100000, 256, 0x4000);
	e.multiboot = true;
	e.note[e.nnote++] = (struct tb_note){CVM_NOTE_NAME, CVM_NOTE_AP_INIT, &ap32, sizeof(ap32)};
	ld_header(&b, 0, "protected", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "mb32-ap-init");

	e = elf_one(true, 0x100000, 256, 0x4000);
	e.note_align = 8;
	pvh_note(&e, &entry64, 8);
	e.note[e.nnote++] = (struct tb_note){CVM_NOTE_NAME, CVM_NOTE_AP_INIT, &ap64, sizeof(ap64)};
	ld_header(&b, 0, "protected", NULL, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "pvh64-ap-init");

	/* a command line that does not fit in the boot-info area */
	e = elf_one(false, 0x100000, 256, 4096);
	e.multiboot = true;
	u8(&b, 0);
	u8(&b, FZ_LOADER_CMDLINE_GEN | 80);
	u8(&b, 0);
	ld_image(&b, &e);
	emit(&b, "loader", "mb-cmdline-too-long");
	free(b.p);
}

/* ---- lifecycle ---- */

static void lc_ops(struct sb *b, const char *name, uint8_t opts, const uint8_t *ops, size_t n)
{
	u8(b, opts);
	put(b, ops, n);
	emit(b, "lifecycle", name);
}

static void seeds_lifecycle(void)
{
	struct sb b = {0};
	/* NEXT takes an inputs byte: 0 nothing, 6 interrupt pending with IF=1 */
	static const uint8_t ap_boot[] = {
	        FZ_LC_INIT, FZ_LC_NEXT, 0,          FZ_LC_SIPI, 0x10,      FZ_LC_SIPI, 0x10,
	        FZ_LC_NEXT, 0,          FZ_LC_NEXT, 0,          FZ_LC_HLT, FZ_LC_NEXT, 0,
	        FZ_LC_NEXT, 6,          FZ_LC_NMI,  FZ_LC_NEXT, 0,         FZ_LC_NMI,  FZ_LC_NEXT,
	        0,          FZ_LC_IRET, FZ_LC_NEXT, 0};
	/* seed 004: an SMI between INIT and SIPI, the SIPI lost in SMM */
	static const uint8_t seed004[] = {
	        FZ_LC_INIT, FZ_LC_NEXT, 0,          FZ_LC_SIPI, 0x10,       FZ_LC_NEXT, 0,
	        FZ_LC_HLT,  FZ_LC_SMI,  FZ_LC_NEXT, 0,          FZ_LC_INIT, FZ_LC_SIPI, 0x10,
	        FZ_LC_SMI,  FZ_LC_RSM,  FZ_LC_NEXT, 0,          FZ_LC_RSM,  FZ_LC_NEXT, 0,
	        FZ_LC_SIPI, 0x10,       FZ_LC_NEXT, 0};
	static const uint8_t bsp[] = {FZ_LC_SMI,
	                              FZ_LC_NMI,
	                              FZ_LC_NEXT,
	                              1,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_IRET,
	                              FZ_LC_RSM,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_HLT,
	                              FZ_LC_NEXT,
	                              2,
	                              FZ_LC_NEXT,
	                              6,
	                              FZ_LC_DELIVER,
	                              CVM_DM_NMI,
	                              0,
	                              1,
	                              FZ_LC_DELIVER,
	                              CVM_DM_INIT,
	                              0,
	                              0,
	                              FZ_LC_DELIVER,
	                              CVM_DM_INIT,
	                              0,
	                              1,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_PAUSE,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_RESUME,
	                              FZ_LC_NEXT,
	                              0,
	                              FZ_LC_STOP,
	                              FZ_LC_NEXT,
	                              0};
	static const uint8_t hold[] = {
	        FZ_LC_INIT, FZ_LC_NEXT, 0,          FZ_LC_SIPI, 0,          FZ_LC_NEXT, 0,
	        FZ_LC_HOLD, FZ_LC_NEXT, 0,          FZ_LC_SIPI, 0,          FZ_LC_INIT, FZ_LC_NEXT,
	        0,          FZ_LC_SMI,  FZ_LC_SIPI, 0,          FZ_LC_INIT, FZ_LC_NEXT, 0,
	        FZ_LC_SIPI, 0,          FZ_LC_NEXT, 0,          FZ_LC_NEXT, 0};

	lc_ops(&b, "ap-boot", 0, ap_boot, sizeof(ap_boot));
	lc_ops(&b, "seed004-smi-between-init-and-sipi", 0, seed004, sizeof(seed004));
	lc_ops(&b, "bsp-smi-nmi-requests", CVM_LC_OPT_BSP, bsp, sizeof(bsp));
	lc_ops(&b, "bsp-nmi-by-hv", CVM_LC_OPT_BSP | CVM_LC_OPT_NMI_BY_HV, bsp, sizeof(bsp));
	lc_ops(&b, "protected-reset-hold", CVM_LC_OPT_PROTECTED, hold, sizeof(hold));
	free(b.p);
}

/* ---- local APIC ---- */

static void la_header(struct sb *b, uint32_t id, uint8_t flags)
{
	u32(b, id);
	u8(b, flags);
	u8(b, 4);        /* MAXPHYADDR 39 */
	u32(b, 2000000); /* 2 GHz TSC */
	u8(b, 1);        /* 1 ns bus cycle */
	u32(b, 1000);    /* start at 1 us */
}

static void la_mmio_w(struct sb *b, uint32_t off, uint32_t v)
{
	u8(b, FZ_LA_MMIO_WRITE);
	u16(b, (uint16_t)(off / 16));
	u32(b, v);
}

static void la_mmio_r(struct sb *b, uint32_t off)
{
	u8(b, FZ_LA_MMIO_READ);
	u16(b, (uint16_t)(off / 16));
}

static void la_msr_w(struct sb *b, uint32_t off, uint64_t v)
{
	u8(b, FZ_LA_MSR_WRITE);
	u16(b, (uint16_t)(off / 16));
	u64(b, v);
}

static void la_msr_r(struct sb *b, uint32_t off)
{
	u8(b, FZ_LA_MSR_READ);
	u16(b, (uint16_t)(off / 16));
}

static void la_op(struct sb *b, uint8_t op, uint8_t x, uint8_t y)
{
	u8(b, op);
	u8(b, x);
	u8(b, y);
}

static void la_advance(struct sb *b, uint32_t ns)
{
	u8(b, FZ_LA_ADVANCE);
	u32(b, ns);
	u8(b, 0);
}

static void seeds_lapic(void)
{
	struct sb b = {0};

	/* xAPIC: enable, priorities, a periodic timer, interrupts, EOI, LINT0 ExtINT */
	la_header(&b, 0, FZ_LA_CFG_BSP | FZ_LA_CFG_X2APIC);
	la_mmio_w(&b, CVM_APIC_SVR, 0x1ff);
	la_mmio_w(&b, CVM_APIC_TPR, 0x20);
	la_mmio_w(&b, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_PERIODIC | 0x30);
	la_mmio_w(&b, CVM_APIC_TDCR, 0x3);
	la_mmio_w(&b, CVM_APIC_TMICT, 1000);
	la_advance(&b, 20000);
	la_mmio_r(&b, CVM_APIC_TMCCT);
	la_mmio_w(&b, CVM_APIC_TDCR, 0xb);
	la_advance(&b, 70000);
	la_op(&b, FZ_LA_ACCEPT, 0x40, 1);
	la_op(&b, FZ_LA_ACCEPT, 0x50, 0);
	u8(&b, FZ_LA_ACK);
	la_mmio_r(&b, CVM_APIC_PPR);
	la_mmio_r(&b, CVM_APIC_ISR + 0x40);
	la_mmio_w(&b, CVM_APIC_EOI, 0);
	u8(&b, FZ_LA_ACK);
	u8(&b, FZ_LA_EOI);
	la_mmio_w(&b, CVM_APIC_LVT_LINT0, 0x8700);
	la_op(&b, FZ_LA_LINT, 0, 1);
	la_mmio_w(&b, CVM_APIC_LVT_LINT1, 0x8031);
	la_op(&b, FZ_LA_LINT, 1, 1);
	u8(&b, FZ_LA_ACK);
	u8(&b, FZ_LA_EOI);
	la_mmio_w(&b, CVM_APIC_ICR_HI, 0x01000000);
	la_mmio_w(&b, CVM_APIC_ICR_LO, 0x4031);
	la_mmio_w(&b, CVM_APIC_LVT_ERROR, 0x22);
	la_mmio_w(&b, CVM_APIC_ICR_LO, 0x0005); /* illegal vector: send error */
	la_mmio_w(&b, CVM_APIC_ESR, 0);
	la_mmio_r(&b, CVM_APIC_ESR);
	la_mmio_w(&b, 0x2a0, 1); /* reserved register */
	u8(&b, FZ_LA_INIT_RESET);
	emit(&b, "lapic", "xapic-timer-irq-eoi");

	/* x2APIC: switch, MSR access, TSC deadline, self IPI, illegal transitions */
	la_header(&b, 0x123, FZ_LA_CFG_X2APIC);
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_X2APIC, 0);
	la_msr_w(&b, CVM_APIC_SVR, 0x11ff);
	la_msr_w(&b, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_TSCDL | 0x31);
	u8(&b, FZ_LA_TSC_DEADLINE);
	u8(&b, 1);
	u32(&b, 50000);
	la_advance(&b, 40000);
	la_msr_w(&b, CVM_APIC_SELF_IPI, 0x41);
	la_msr_w(&b, CVM_APIC_ICR_LO, (uint64_t)0x124 << 32 | 0x4042);
	la_msr_w(&b, CVM_APIC_ICR_LO, (uint64_t)0x10002 << 32 | 0x4842);
	for (uint32_t off = CVM_APIC_ID; off <= CVM_APIC_SELF_IPI; off += 0x10)
		la_msr_r(&b, off);
	la_msr_w(&b, CVM_APIC_EOI, 0);
	la_msr_w(&b, CVM_APIC_TPR, 0x100); /* reserved bits: #GP */
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_XAPIC, 0);
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_XAPIC, 1);
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_DISABLED, 0);
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_X2APIC, 0);
	la_op(&b, FZ_LA_BASE_MODE, CVM_APIC_MODE_XAPIC, 0);
	emit(&b, "lapic", "x2apic-tsc-deadline-modes");

	/* a hostile 1 ns periodic timer under the minimum period: ticks fold, TMCCT runs */
	la_header(&b, 1, FZ_LA_CFG_BSP | FZ_LA_CFG_MIN_PERIOD);
	la_mmio_w(&b, CVM_APIC_SVR, 0x1ff);
	la_mmio_w(&b, CVM_APIC_TDCR, 0xb);
	la_mmio_w(&b, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_PERIODIC | 0xd7);
	la_mmio_w(&b, CVM_APIC_TMICT, 1);
	la_advance(&b, 5);
	la_advance(&b, 150000);
	la_advance(&b, 60000);
	la_mmio_w(&b, CVM_APIC_TMICT, 300000);
	la_advance(&b, 100000);
	la_mmio_r(&b, CVM_APIC_TMCCT);
	la_advance(&b, 250000);
	emit(&b, "lapic", "periodic-min-period");

	/* relocation and a one-shot timer running out between checks */
	la_header(&b, 7, 0);
	u8(&b, FZ_LA_SET_BASE);
	u64(&b, 0xfed00000u | CVM_APIC_BASE_EN);
	u8(&b, 0);
	la_mmio_w(&b, CVM_APIC_SVR, 0x1ff);
	la_mmio_w(&b, CVM_APIC_LVT_TIMER, 0x33);
	la_mmio_w(&b, CVM_APIC_TMICT, 5000);
	la_mmio_r(&b, CVM_APIC_TMCCT);
	la_advance(&b, 2000);
	la_mmio_r(&b, CVM_APIC_TMCCT);
	la_advance(&b, 4000);
	u8(&b, FZ_LA_EXPIRE);
	la_mmio_w(&b, CVM_APIC_LVT_THERMAL, 0x400);
	op1(&b, FZ_LA_LVT_FIRE, CVM_LVT_THERMAL);
	op1(&b, FZ_LA_SET_TPR, 0xf0);
	la_mmio_w(&b, CVM_APIC_SVR, 0xff);
	emit(&b, "lapic", "xapic-relocated-oneshot");
	free(b.p);
}

/* ---- routing ---- */

static void bus_header(struct sb *b, uint8_t n, uint16_t x2mask, uint8_t scheme, uint16_t base,
                       uint8_t stride)
{
	u8(b, (uint8_t)(n - 2));
	u16(b, x2mask);
	u8(b, scheme);
	u16(b, base);
	u8(b, stride);
}

static uint8_t modebits(unsigned int mode, bool logical, bool level, bool assert,
                        unsigned int shorthand)
{
	return (uint8_t)(mode | (logical ? 8 : 0) | (level ? 0x10 : 0) | (assert ? 0x20 : 0) |
	                 shorthand << 6);
}

static void bus_icr(struct sb *b, uint8_t from, uint8_t vector, uint8_t bits, uint8_t kind,
                    uint32_t raw)
{
	u8(b, FZ_BUS_ICR);
	u8(b, from);
	u8(b, vector);
	u8(b, bits);
	u8(b, kind);
	u32(b, raw);
}

static void bus_op(struct sb *b, uint8_t op, uint8_t v, uint8_t x)
{
	u8(b, op);
	u8(b, v);
	u8(b, x);
}

static void bus_reg(struct sb *b, uint8_t v, uint8_t reg, uint32_t val)
{
	u8(b, FZ_BUS_REG);
	u8(b, v);
	u8(b, reg);
	if (reg != FZ_REG_ESR)
		u32(b, val);
}

/* INIT, SIPI, SIPI to every AP from the BSP, each AP stepping into its SIPI entry. */
static void bus_boot(struct sb *b, uint8_t n)
{
	bus_icr(b, 0, 0, modebits(CVM_DM_INIT, false, true, true, CVM_SH_ALL_BUT_SELF), 1, 0);
	for (uint8_t v = 1; v < n; v++)
		bus_op(b, FZ_BUS_STEP, v, 0);
	for (int i = 0; i < 2; i++)
		bus_icr(b, 0, 0x10,
		        modebits(CVM_DM_STARTUP, false, false, true, CVM_SH_ALL_BUT_SELF), 1, 0);
	for (uint8_t v = 1; v < n; v++)
		bus_op(b, FZ_BUS_STEP, v, 0);
}

static void seeds_apic_bus(void)
{
	struct sb b = {0};

	/* 4 xAPICs: boot, logical flat, lowest priority, an INIT resetting an LDR */
	bus_header(&b, 4, 0, 0, 0, 0);
	bus_boot(&b, 4);
	for (uint8_t v = 0; v < 4; v++) {
		bus_reg(&b, v, FZ_REG_LDR, (1u << v) << 24);
		bus_reg(&b, v, FZ_REG_TPR, v * 0x10u);
	}
	bus_icr(&b, 1, 0x40, modebits(CVM_DM_FIXED, true, false, true, 0), 1, 0x0f);
	bus_icr(&b, 2, 0x41, modebits(CVM_DM_LOWEST, true, false, true, 0), 1, 0x0e);
	bus_icr(&b, 3, 0x42, modebits(CVM_DM_NMI, false, false, true, 0), 0, 2);
	op1(&b, FZ_BUS_ACK, 0);
	op1(&b, FZ_BUS_EOI, 0);
	bus_icr(&b, 0, 0, modebits(CVM_DM_INIT, false, false, true, 0), 0, 2);
	bus_op(&b, FZ_BUS_STEP, 2, 0);
	bus_icr(&b, 1, 0x43, modebits(CVM_DM_FIXED, true, false, true, 0), 1, 0x04);
	emit(&b, "apic_bus", "xapic-flat-lowest-init");

	/* 8 x2APICs: physical, cluster logical, broadcast, lowest priority, I/O APIC form */
	bus_header(&b, 8, 0xff, 1, 0x20, 3);
	bus_boot(&b, 8);
	bus_icr(&b, 0, 0x50, modebits(CVM_DM_FIXED, false, false, true, 0), 0, 5);
	bus_icr(&b, 1, 0x51, modebits(CVM_DM_FIXED, true, false, true, 0), 3, 0x0300 | 4);
	bus_icr(&b, 2, 0x52, modebits(CVM_DM_FIXED, false, true, true, 0), 2, 0);
	bus_icr(&b, 3, 0x53, modebits(CVM_DM_LOWEST, false, false, true, 0), 2, 0);
	bus_icr(&b, 4, 0x54, modebits(CVM_DM_FIXED, false, false, true, CVM_SH_SELF), 1, 0);
	u8(&b, FZ_BUS_MSG);
	u8(&b, 0xff);
	u8(&b, 0x60);
	u8(&b, modebits(CVM_DM_FIXED, true, true, true, 0));
	u8(&b, 0);
	u8(&b, 1);
	u32(&b, 0x03);
	bus_op(&b, FZ_BUS_MODE, 3, CVM_APIC_MODE_DISABLED);
	u8(&b, 0);
	bus_icr(&b, 0, 0x55, modebits(CVM_DM_FIXED, false, false, true, CVM_SH_ALL), 1, 0);
	emit(&b, "apic_bus", "x2apic-cluster-broadcast");

	/* 16 mixed: xAPIC cluster model, duplicate IDs, SMI and SIPI storms */
	bus_header(&b, 16, 0xaaaa, 2, 0, 0);
	for (uint16_t v = 0; v < 16; v++)
		u16(&b, (uint16_t)(v / 2));
	for (uint8_t v = 0; v < 16; v += 2) {
		bus_reg(&b, v, FZ_REG_DFR, 0x0fffffff);
		bus_reg(&b, v, FZ_REG_LDR, (uint32_t)((v / 4) << 4 | 1u << (v / 2 % 4)) << 24);
	}
	bus_icr(&b, 0, 0x70, modebits(CVM_DM_FIXED, true, false, true, 0), 1, 0x13);
	bus_icr(&b, 0, 0x71, modebits(CVM_DM_SMI, false, false, true, 0), 0, 4);
	bus_icr(&b, 1, 0x72, modebits(CVM_DM_STARTUP, false, false, true, 0), 0, 6);
	bus_icr(&b, 2, 0x73, modebits(CVM_DM_LOWEST, true, false, true, 0), 1, 0xff);
	bus_reg(&b, 4, FZ_REG_ID, 0x05000000);
	bus_icr(&b, 3, 0x74, modebits(CVM_DM_FIXED, false, false, true, 0), 1, 5);
	bus_op(&b, FZ_BUS_GUEST, 0, 0);
	bus_op(&b, FZ_BUS_STEP, 0, 1);
	emit(&b, "apic_bus", "mixed-cluster-collisions");
	free(b.p);
}

/* ---- I/O APIC ---- */

static void io_rte(struct sb *b, uint8_t pin, uint8_t half, uint32_t v)
{
	u8(b, FZ_IO_RTE);
	u8(b, pin);
	u8(b, half);
	u32(b, v);
}

static void seeds_ioapic(void)
{
	struct sb b = {0};

	u8(&b, 1);
	u8(&b, 1); /* two local APICs */
	u8(&b, 0);
	io_rte(&b, 4, 1, 0x01000000);
	io_rte(&b, 4, 0, 0x30);
	bus_op(&b, FZ_IO_IRQ, 4, 1);
	bus_op(&b, FZ_IO_IRQ, 4, 0);
	op1(&b, FZ_IO_ACK, 1);
	op1(&b, FZ_IO_EOI, 1);
	io_rte(&b, 9, 0, 0x39 | (uint32_t)CVM_RTE_LEVEL | (uint32_t)CVM_RTE_LOGICAL);
	io_rte(&b, 9, 1, 0x03000000);
	bus_op(&b, FZ_IO_IRQ, 9, 1);
	op1(&b, FZ_IO_ACK, 0);
	op1(&b, FZ_IO_EOI, 0);
	op1(&b, FZ_IO_ACK, 0);
	bus_op(&b, FZ_IO_IRQ, 9, 0);
	op1(&b, FZ_IO_EOI, 0);
	u8(&b, FZ_IO_WRITE), u8(&b, 0), u32(&b, 1); /* IOREGSEL = version */
	u8(&b, FZ_IO_READ), u8(&b, 1);
	u8(&b, FZ_IO_WRITE), u8(&b, 0), u32(&b, 0); /* ID */
	u8(&b, FZ_IO_WRITE), u8(&b, 1), u32(&b, 0x0a000000);
	u8(&b, FZ_IO_READ), u8(&b, 1);
	emit(&b, "ioapic", "edge-and-level");

	u8(&b, 0);
	u8(&b, 3); /* four local APICs, two in x2APIC mode */
	u8(&b, 0x5);
	io_rte(&b, 2, 0, 0x41 | (uint32_t)CVM_RTE_LEVEL | (uint32_t)CVM_RTE_MASKED);
	io_rte(&b, 2, 1, 0xff000000);
	bus_op(&b, FZ_IO_IRQ, 2, 1);
	io_rte(&b, 2, 0, 0x41 | (uint32_t)CVM_RTE_LEVEL | 1u << CVM_RTE_DM_SHIFT);
	for (uint8_t v = 0; v < 4; v++) {
		op1(&b, FZ_IO_ACK, v);
		op1(&b, FZ_IO_EOI, v);
	}
	u8(&b, FZ_IO_WRITE), u8(&b, 2), u32(&b, 0x41); /* EOI register */
	u8(&b, FZ_IO_SVR), u8(&b, 1), u16(&b, 0xff);
	io_rte(&b, 2, 0, 0x41);
	emit(&b, "ioapic", "level-lowest-eoi-register");
	free(b.p);
}

/* ---- devices ---- */

static void dv_io(struct sb *b, bool write, uint8_t port, uint8_t size_idx, uint32_t v)
{
	u8(b, write ? FZ_DEV_WRITE : FZ_DEV_READ);
	u8(b, port);
	u8(b, size_idx); /* 0: 1 byte, 1: 2 bytes, 2: 4 bytes */
	if (write)
		u32(b, v);
}

static void seeds_devices(void)
{
	static const char hello[] = "hello, corevm\n";
	struct sb b = {0};

	/* the UART set up as Linux's 8250 driver does, input, output, loopback */
	u16(&b, 4), u16(&b, 8), u32(&b, 256);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_LCR, 0, CVM_UART_LCR_DLAB);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 0, 1);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_IER_DLM, 0, 0);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_LCR, 0, 0x03);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_IIR_FCR, 0, 0xc7);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_MCR, 0, 0x0b);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_IER_DLM, 0, 0x0f);
	dv_io(&b, false, FZ_PORT_UART + CVM_UART_IIR_FCR, 0, 0);
	u8(&b, FZ_DEV_UART_PUSH);
	u8(&b, sizeof(hello) - 1);
	put(&b, hello, sizeof(hello) - 1);
	for (int i = 0; i < 4; i++) {
		dv_io(&b, false, FZ_PORT_UART + CVM_UART_LSR, 0, 0);
		dv_io(&b, false, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 0, 0);
	}
	dv_io(&b, false, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 2, 0);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 0, 'A');
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_MCR, 0, 0x1f);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 1, 0x4241);
	dv_io(&b, false, FZ_PORT_UART + CVM_UART_MSR, 0, 0);
	dv_io(&b, false, FZ_PORT_UART + CVM_UART_RBR_THR_DLL, 0, 0);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_MCR, 0, 0x08);
	u8(&b, FZ_DEV_UART_PUSH);
	u8(&b, 20);
	put(&b, "01234567890123456789", 20);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_IIR_FCR, 0, 0);
	dv_io(&b, true, FZ_PORT_UART + CVM_UART_SCR, 2, 0x01020304);
	u8(&b, FZ_DEV_UART_WRITE), u8(&b, 9), u8(&b, 1);
	u8(&b, FZ_DEV_UART_READ), u8(&b, 0);
	emit(&b, "devices", "uart-8250-init-io-loopback");

	/* fw_cfg items read to past their end, debug exit, i8042 resets, probes, edges */
	u16(&b, 2), u16(&b, 4), u32(&b, 512);
	for (uint16_t key = 0; key < 0x10; key++) {
		dv_io(&b, true, FZ_PORT_FW_CFG_SEL, 1, key);
		for (int i = 0; i < 9; i++)
			dv_io(&b, false, FZ_PORT_FW_CFG_DATA, 0, 0);
	}
	dv_io(&b, true, FZ_PORT_FW_CFG_SEL, 0, 1);
	dv_io(&b, false, FZ_PORT_FW_CFG_SEL, 1, 0);
	u8(&b, FZ_DEV_FW_SELECT), u16(&b, CVM_FW_CFG_RAM_SIZE);
	for (int i = 0; i < 3; i++)
		u8(&b, FZ_DEV_FW_READ);
	dv_io(&b, true, FZ_PORT_DEBUG_EXIT, 0, 0x31);
	dv_io(&b, true, FZ_PORT_DEBUG_EXIT, 2, 0x12345678);
	dv_io(&b, false, FZ_PORT_DEBUG_EXIT, 2, 0);
	dv_io(&b, true, FZ_PORT_I8042_CMD, 0, CVM_I8042_CMD_SELF_TEST);
	dv_io(&b, false, FZ_PORT_I8042_DATA, 0, 0);
	dv_io(&b, true, FZ_PORT_I8042_CMD, 0, CVM_I8042_CMD_WRITE_OUTPORT);
	dv_io(&b, true, FZ_PORT_I8042_DATA, 0, 0xfe);
	dv_io(&b, true, FZ_PORT_I8042_CMD, 0, CVM_I8042_CMD_RESET);
	u8(&b, FZ_DEV_I8042), u8(&b, 1), u8(&b, 1), u8(&b, CVM_I8042_CMD_READ_CONFIG);
	u8(&b, FZ_DEV_I8042), u8(&b, 0), u8(&b, 0), u8(&b, 0);
	u8(&b, FZ_DEV_REGISTER), u16(&b, 0x3fc), u8(&b, 8); /* overlaps the UART */
	u8(&b, FZ_DEV_REGISTER), u16(&b, 0x700), u8(&b, 6);
	u8(&b, FZ_DEV_REGISTER), u16(&b, 0xfffe), u8(&b, 4); /* wraps */
	u8(&b, FZ_DEV_READ), u8(&b, 0xff), u8(&b, 2), u16(&b, 0x702);
	u8(&b, FZ_DEV_WRITE), u8(&b, 0xff), u8(&b, 2), u16(&b, 0x703), u32(&b, 7);
	for (uint8_t p = FZ_PORT_TABLE_EDGES; p < FZ_PORT_TABLE_EDGES + 19; p++)
		dv_io(&b, p & 1, p, p % 8, p);
	emit(&b, "devices", "fw-cfg-debug-exit-i8042-probes");
	free(b.p);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_gen_seeds CORPUS_DIR\n");
		return 2;
	}
	corpus_dir = argv[1];
	seeds_loader();
	seeds_lifecycle();
	seeds_lapic();
	seeds_apic_bus();
	seeds_ioapic();
	seeds_devices();
	return failures ? 1 : 0;
}
