/* Conversion between the core's register state and KVM's structures; the APs' measured initial state. */
#include "vmm/x86_regs.h"

#include <stdbool.h>
#include <string.h>

void cvm_seg_to_kvm(const struct cvm_x86_seg *s, struct kvm_segment *k)
{
	memset(k, 0, sizeof(*k));
	k->base = s->base;
	k->limit = s->limit;
	k->selector = s->selector;
	k->type = (uint8_t)(s->ar & 0xfu);
	k->s = (s->ar & CVM_AR_S) ? 1 : 0;
	k->dpl = (uint8_t)((s->ar >> 5) & 3u);
	k->present = (s->ar & CVM_AR_P) ? 1 : 0;
	k->avl = (uint8_t)((s->ar >> 12) & 1u);
	k->l = (s->ar & CVM_AR_L) ? 1 : 0;
	k->db = (s->ar & CVM_AR_DB) ? 1 : 0;
	k->g = (s->ar & CVM_AR_G) ? 1 : 0;
	k->unusable = k->present ? 0 : 1;
}

void cvm_regs_to_kvm(const struct cvm_x86_regs *r, uint64_t apic_base, struct kvm_regs *regs,
                     struct kvm_sregs *sregs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rax = r->gpr[CVM_RAX];
	regs->rcx = r->gpr[CVM_RCX];
	regs->rdx = r->gpr[CVM_RDX];
	regs->rbx = r->gpr[CVM_RBX];
	regs->rsp = r->gpr[CVM_RSP];
	regs->rbp = r->gpr[CVM_RBP];
	regs->rsi = r->gpr[CVM_RSI];
	regs->rdi = r->gpr[CVM_RDI];
	regs->r8 = r->gpr[CVM_R8];
	regs->r9 = r->gpr[CVM_R9];
	regs->r10 = r->gpr[CVM_R10];
	regs->r11 = r->gpr[CVM_R11];
	regs->r12 = r->gpr[CVM_R12];
	regs->r13 = r->gpr[CVM_R13];
	regs->r14 = r->gpr[CVM_R14];
	regs->r15 = r->gpr[CVM_R15];
	regs->rip = r->rip;
	regs->rflags = r->rflags;

	memset(sregs, 0, sizeof(*sregs));
	cvm_seg_to_kvm(&r->cs, &sregs->cs);
	cvm_seg_to_kvm(&r->ds, &sregs->ds);
	cvm_seg_to_kvm(&r->es, &sregs->es);
	cvm_seg_to_kvm(&r->fs, &sregs->fs);
	cvm_seg_to_kvm(&r->gs, &sregs->gs);
	cvm_seg_to_kvm(&r->ss, &sregs->ss);
	cvm_seg_to_kvm(&r->ldtr, &sregs->ldt);
	cvm_seg_to_kvm(&r->tr, &sregs->tr);
	sregs->gdt.base = r->gdtr.base;
	sregs->gdt.limit = (uint16_t)r->gdtr.limit;
	sregs->idt.base = r->idtr.base;
	sregs->idt.limit = (uint16_t)r->idtr.limit;
	sregs->cr0 = r->cr0;
	sregs->cr2 = r->cr2;
	sregs->cr3 = r->cr3;
	sregs->cr4 = r->cr4;
	sregs->cr8 = r->cr8;
	sregs->efer = r->efer;
	sregs->apic_base = apic_base;
}

void cvm_regs_to_kvm_debug(const struct cvm_x86_regs *r, struct kvm_debugregs *d)
{
	memset(d, 0, sizeof(*d));
	for (unsigned int i = 0; i < 4; i++)
		d->db[i] = r->dr[i];
	d->dr6 = r->dr6;
	d->dr7 = r->dr7;
}

void cvm_regs_from_kvm_sregs(const struct kvm_sregs *sregs, struct cvm_x86_regs *r)
{
	r->cr0 = sregs->cr0;
}

#define AP_CR0_PE   0x1ull
#define AP_CR0_PG   0x80000000ull
#define AP_CR4_PAE  0x20ull
#define AP_EFER_LME 0x100ull
#define AP_EFER_LMA 0x400ull

/* A flat 4 GiB code or data segment for `sel`; 64-bit code with `long_code`. */
static struct cvm_x86_seg flat_seg(uint16_t sel, bool code, bool long_code)
{
	uint16_t ar = CVM_AR_S | CVM_AR_P | CVM_AR_G | CVM_AR_TYPE(code ? 0xb : 0x3);

	ar |= long_code ? CVM_AR_L : CVM_AR_DB;
	return (struct cvm_x86_seg){.base = 0, .limit = 0xffffffff, .selector = sel, .ar = ar};
}

void cvm_regs_from_ap_init(const struct cvm_ap_init_note *n, unsigned int vcpu, uint32_t cpuid1_eax,
                           struct cvm_x86_regs *r)
{
	bool lm = n->mode == CVM_AP_MODE_LONG64;

	cvm_x86_reset_regs(r, CVM_X86_RESET, cpuid1_eax);
	memset(r->gpr, 0, sizeof(r->gpr));
	r->gpr[CVM_RSP] = n->stack_top + (uint64_t)(vcpu - 1) * n->stack_stride;
	r->gpr[CVM_RDI] = vcpu;
	r->rip = n->entry;
	r->rflags = 0x2;
	r->cs = flat_seg(n->code_sel, true, lm);
	r->ds = r->es = r->fs = r->gs = r->ss = flat_seg(n->data_sel, false, false);
	r->tr = (struct cvm_x86_seg){.limit = 0x67,
	                             .ar = CVM_AR_P | CVM_AR_TYPE(0xb)}; /* busy TSS */
	r->gdtr = (struct cvm_x86_dtable){.base = n->gdt_base, .limit = n->gdt_limit};
	r->idtr = (struct cvm_x86_dtable){.base = 0, .limit = 0};
	r->cr0 = CVM_CR0_ET | AP_CR0_PE | (lm ? AP_CR0_PG : 0);
	r->cr3 = lm ? n->cr3 : 0;
	r->cr4 = lm ? AP_CR4_PAE : 0;
	r->efer = lm ? AP_EFER_LME | AP_EFER_LMA : 0;
}
