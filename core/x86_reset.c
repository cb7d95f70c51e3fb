/* The RESET/INIT register-state table and the SIPI entry state, applied by table walk. */
#include "core/x86_reset.h"

#include <string.h>

#define ROW(n, field, rule, val, keep)                                                             \
	{                                                                                          \
		.name = (n), .offset = offsetof(struct cvm_x86_regs, field),                       \
		.size = sizeof(((struct cvm_x86_regs *)0)->field), .init = (rule), .value = (val), \
		.keep_mask = (keep)                                                                \
	}
#define SET(n, field, val)  ROW(n, field, CVM_INIT_SET, val, 0)
#define KEEP(n, field, val) ROW(n, field, CVM_INIT_KEEP, val, 0)

/*
 * SDM vol. 3A, "Processor State Following Power-up, Reset, or INIT". The
 * value column is the RESET value; INIT sets the same value unless the rule
 * says it keeps the register (or some bits of it). RDX (the processor
 * signature) is filled in by cvm_x86_reset_regs() from CPUID.1:EAX.
 */
const struct cvm_x86_reset_row cvm_x86_reset_table[] = {
        SET("rip", rip, CVM_X86_RESET_RIP),
        SET("rflags", rflags, 0x2),
        SET("rax", gpr[CVM_RAX], 0),
        SET("rcx", gpr[CVM_RCX], 0),
        SET("rdx", gpr[CVM_RDX], 0), /* then CPUID.1:EAX */
        SET("rbx", gpr[CVM_RBX], 0),
        SET("rsp", gpr[CVM_RSP], 0),
        SET("rbp", gpr[CVM_RBP], 0),
        SET("rsi", gpr[CVM_RSI], 0),
        SET("rdi", gpr[CVM_RDI], 0),
        SET("r8", gpr[CVM_R8], 0),
        SET("r9", gpr[CVM_R9], 0),
        SET("r10", gpr[CVM_R10], 0),
        SET("r11", gpr[CVM_R11], 0),
        SET("r12", gpr[CVM_R12], 0),
        SET("r13", gpr[CVM_R13], 0),
        SET("r14", gpr[CVM_R14], 0),
        SET("r15", gpr[CVM_R15], 0),
        /* RESET: CD | NW | ET. INIT: CD and NW unchanged, ET set, everything else clear. */
        ROW("cr0", cr0, CVM_INIT_KEEP_BITS, CVM_CR0_CD | CVM_CR0_NW | CVM_CR0_ET,
            CVM_CR0_CD | CVM_CR0_NW),
        SET("cr2", cr2, 0),
        SET("cr3", cr3, 0),
        SET("cr4", cr4, 0),
        SET("cr8", cr8, 0),
        SET("efer", efer, 0),
        SET("dr0", dr[0], 0),
        SET("dr1", dr[1], 0),
        SET("dr2", dr[2], 0),
        SET("dr3", dr[3], 0),
        SET("dr6", dr6, 0xffff0ff0),
        SET("dr7", dr7, 0x400),
        SET("gdtr.base", gdtr.base, 0),
        SET("gdtr.limit", gdtr.limit, 0xffff),
        SET("idtr.base", idtr.base, 0),
        SET("idtr.limit", idtr.limit, 0xffff),
        /* Reset only by RESET. */
        KEEP("pat", pat, CVM_X86_RESET_PAT),
        KEEP("smbase", smbase, CVM_X86_RESET_SMBASE),
        KEEP("xcr0", xcr0, 0x1),
        KEEP("tsc", tsc, 0),
        KEEP("mxcsr", mxcsr, 0x1f80),
        KEEP("fcw", fcw, 0x0040),
        KEEP("fsw", fsw, 0),
        KEEP("ftw", ftw, 0x5555),
        {.name = NULL},
};

#define SEG(n, field, sel, b, lim, a)                                                   \
	{                                                                               \
		.name = (n), .offset = offsetof(struct cvm_x86_regs, field), .value = { \
			.base = (b),                                                    \
			.limit = (lim),                                                 \
			.selector = (sel),                                              \
			.ar = (a)                                                       \
		}                                                                       \
	}

/* Segments are set alike by RESET and INIT: real mode, 64 KiB limits, CS at the top of 4 GiB. */
const struct cvm_x86_seg_row cvm_x86_seg_table[] = {
        SEG("cs", cs, CVM_X86_RESET_CS, CVM_X86_RESET_CSB, 0xffff,
            CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0xb)), /* code, execute/read, accessed */
        SEG("ds", ds, 0, 0, 0xffff, CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0x3)),
        SEG("es", es, 0, 0, 0xffff, CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0x3)),
        SEG("fs", fs, 0, 0, 0xffff, CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0x3)),
        SEG("gs", gs, 0, 0, 0xffff, CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0x3)),
        SEG("ss", ss, 0, 0, 0xffff, CVM_AR_P | CVM_AR_S | CVM_AR_TYPE(0x3)),
        SEG("ldtr", ldtr, 0, 0, 0xffff, CVM_AR_P | CVM_AR_TYPE(0x2)), /* LDT */
        SEG("tr", tr, 0, 0, 0xffff, CVM_AR_P | CVM_AR_TYPE(0xb)),     /* busy 32-bit TSS */
        {.name = NULL},
};

static uint64_t load(const struct cvm_x86_regs *r, const struct cvm_x86_reset_row *row)
{
	const unsigned char *p = (const unsigned char *)r + row->offset;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (row->size) {
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static void store(struct cvm_x86_regs *r, const struct cvm_x86_reset_row *row, uint64_t v)
{
	unsigned char *p = (unsigned char *)r + row->offset;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (row->size) {
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

void cvm_x86_reset_regs(struct cvm_x86_regs *r, enum cvm_x86_reset_kind kind, uint32_t cpuid1_eax)
{
	if (kind == CVM_X86_RESET)
		memset(r, 0, sizeof(*r));
	for (const struct cvm_x86_reset_row *row = cvm_x86_reset_table; row->name; row++) {
		uint64_t v = row->value;
		if (kind == CVM_X86_INIT && row->init == CVM_INIT_KEEP)
			continue;
		if (kind == CVM_X86_INIT && row->init == CVM_INIT_KEEP_BITS)
			v = (load(r, row) & row->keep_mask) | (v & ~row->keep_mask);
		store(r, row, v);
	}
	for (const struct cvm_x86_seg_row *row = cvm_x86_seg_table; row->name; row++)
		memcpy((unsigned char *)r + row->offset, &row->value, sizeof(row->value));
	r->gpr[CVM_RDX] = cpuid1_eax;
}

void cvm_x86_sipi_regs(struct cvm_x86_regs *r, uint8_t vector)
{
	r->cs.selector = (uint16_t)(vector << 8);
	r->cs.base = (uint64_t)vector << 12;
	r->cs.limit = 0xffff;
	r->rip = 0;
}
