/* Conversion between the core's register state and KVM's kvm_regs / kvm_sregs / kvm_debugregs. */
#include "vmm/x86_regs.h"

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
