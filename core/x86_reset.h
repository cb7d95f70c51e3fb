/* The x86 register state after RESET, after INIT, and at SIPI entry, as a table of data. */
#ifndef COREVM_CORE_X86_RESET_H
#define COREVM_CORE_X86_RESET_H

#include <stddef.h>
#include <stdint.h>

/*
 * Source: Intel SDM vol. 3A, "Processor State Following Power-up, Reset, or
 * INIT", and the rules in ../shared/reference/x86-vcpu-lifecycle.md. The
 * backend converts struct cvm_x86_regs to KVM_SET_REGS/SREGS/FPU/MSRS; the
 * simulator and tests read it directly.
 */

/* Segment access rights in the VMX/KVM "unusable-free" packed form. */
#define CVM_AR_TYPE(t) ((uint16_t)(t)&0xfu) /* bits 3:0 */
#define CVM_AR_S       0x0010u              /* code/data (not system) */
#define CVM_AR_P       0x0080u              /* present */
#define CVM_AR_L       0x2000u              /* 64-bit code */
#define CVM_AR_DB      0x4000u              /* default operand size 32 */
#define CVM_AR_G       0x8000u              /* 4 KiB granularity */

struct cvm_x86_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t ar; /* access rights: type | S | DPL<<5 | P | ... (CVM_AR_*) */
};

struct cvm_x86_dtable {
	uint64_t base;
	uint32_t limit;
};

/* General-purpose register indexes in struct cvm_x86_regs.gpr (the x86 encoding order). */
enum cvm_x86_gpr {
	CVM_RAX,
	CVM_RCX,
	CVM_RDX,
	CVM_RBX,
	CVM_RSP,
	CVM_RBP,
	CVM_RSI,
	CVM_RDI,
	CVM_R8,
	CVM_R9,
	CVM_R10,
	CVM_R11,
	CVM_R12,
	CVM_R13,
	CVM_R14,
	CVM_R15,
	CVM_NR_GPRS
};

/* The architectural state RESET and INIT define (what a backend must load). */
struct cvm_x86_regs {
	uint64_t gpr[CVM_NR_GPRS];
	uint64_t rip, rflags;
	struct cvm_x86_seg cs, ds, es, fs, gs, ss, ldtr, tr;
	struct cvm_x86_dtable gdtr, idtr;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t dr[4], dr6, dr7;
	uint64_t pat, smbase, xcr0, tsc;
	uint32_t mxcsr;
	uint16_t fcw, fsw, ftw; /* x87 control, status, tag (full 16-bit form) */
};

enum cvm_x86_reset_kind {
	CVM_X86_RESET = 0, /* power-up or RESET: everything defined anew */
	CVM_X86_INIT = 1,  /* INIT: as RESET except what INIT keeps (see the table) */
};

/* How INIT treats one row of the table. */
enum cvm_x86_init_rule {
	CVM_INIT_SET = 0,  /* INIT sets the same value as RESET */
	CVM_INIT_KEEP,     /* INIT leaves the register unchanged */
	CVM_INIT_KEEP_BITS /* INIT keeps the bits in keep_mask, sets the rest from the value */
};

/* One row of the RESET/INIT table: a 64-bit field of struct cvm_x86_regs. */
struct cvm_x86_reset_row {
	const char *name;
	size_t offset;      /* offsetof(struct cvm_x86_regs, field) */
	uint8_t size;       /* 2, 4 or 8 bytes */
	uint8_t init;       /* enum cvm_x86_init_rule */
	uint64_t value;     /* after RESET (and after INIT unless kept) */
	uint64_t keep_mask; /* CVM_INIT_KEEP_BITS: bits INIT keeps */
};

/* One row for a segment or descriptor-table register. */
struct cvm_x86_seg_row {
	const char *name;
	size_t offset; /* offsetof(struct cvm_x86_regs, seg) */
	struct cvm_x86_seg value;
};

/* The table (same for RESET and INIT except the rules). Rows end with name == NULL. */
extern const struct cvm_x86_reset_row cvm_x86_reset_table[];
extern const struct cvm_x86_seg_row cvm_x86_seg_table[];

/* CR0 bits INIT keeps (CD, NW); the rest becomes ET only. */
#define CVM_CR0_CD           (UINT64_C(1) << 30)
#define CVM_CR0_NW           (UINT64_C(1) << 29)
#define CVM_CR0_ET           (UINT64_C(1) << 4)
#define CVM_X86_RESET_RIP    UINT64_C(0xfff0)
#define CVM_X86_RESET_CS     0xf000u
#define CVM_X86_RESET_CSB    UINT64_C(0xffff0000)
#define CVM_X86_RESET_PAT    UINT64_C(0x0007040600070406)
#define CVM_X86_RESET_SMBASE UINT64_C(0x30000)

/*
 * Fills `r` for `kind`. For CVM_X86_RESET `r` is overwritten entirely. For
 * CVM_X86_INIT `r` must hold the vCPU's current state on entry: INIT keeps
 * CR0.CD/NW, PAT, SMBASE, XCR0, TSC, x87/SSE state (and, outside this struct,
 * MTRRs, MCA banks and other MSRs). RDX = `cpuid1_eax` (the processor
 * signature, CPUID.1:EAX) in both cases.
 */
void cvm_x86_reset_regs(struct cvm_x86_regs *r, enum cvm_x86_reset_kind kind, uint32_t cpuid1_eax);

/*
 * The SIPI entry state: on top of the INIT state, CS.selector = vector << 8,
 * CS.base = vector << 12, CS.limit 0xffff, RIP = 0. Only CS and RIP change.
 */
void cvm_x86_sipi_regs(struct cvm_x86_regs *r, uint8_t vector);

#endif
