/*
 * Interrupt-controller modes as an ops table: who owns the local APICs, the I/O
 * APIC and therefore INIT, SIPI and HLT. `kernel` (irqchip_kernel.c) leaves
 * them all to KVM; later modes (`user`, `split`) hook the same points of the
 * vCPU loop: exits they own, injection before entry, and blocking on HLT.
 */
#ifndef COREVM_VMM_IRQCHIP_H
#define COREVM_VMM_IRQCHIP_H

#include <stdbool.h>

#include "vmm/seccomp_filter.h"

struct cvm_vm;
struct cvm_vcpu;
struct kvm_run;

/* What an exit handler tells the vCPU loop to do next. */
enum cvm_vcpu_action {
	CVM_VACT_CONTINUE = 0, /* re-enter the guest */
	CVM_VACT_BLOCK,        /* sleep in userspace until woken (CVM_REQ_WAKE) or stopped */
	CVM_VACT_STOP,         /* this vCPU is done (the VM is ending) */
	CVM_VACT_NOT_MINE,     /* irqchip exit hook only: pass the exit on */
};

/*
 * Every hook but create may be NULL. Call order: create (VM fd exists, no vCPU
 * yet) -> vcpu_init (each vCPU fd, main thread) -> from each vCPU thread:
 * pre_entry before every KVM_RUN, handle_exit on every exit before the generic
 * dispatch -> set_irq from any thread, at any time after create.
 */
struct cvm_irqchip_ops {
	const char *name;
	int (*create)(struct cvm_vm *vm);
	/* Initial MP state: the BSP runs, APs wait for INIT-SIPI-SIPI. */
	int (*vcpu_init)(struct cvm_vcpu *vcpu, bool is_bsp);
	/* Injection point: runs on the vCPU thread right before KVM_RUN. */
	void (*pre_entry)(struct cvm_vcpu *vcpu);
	/* Exits the irqchip owns (HLT, APIC MMIO, x2APIC MSRs); CVM_VACT_NOT_MINE otherwise. */
	enum cvm_vcpu_action (*handle_exit)(struct cvm_vcpu *vcpu, struct kvm_run *run);
	/* Device interrupt line (GSI) level change; returns 0 or -errno. */
	int (*set_irq)(struct cvm_vm *vm, unsigned int irq, int level);
	/* Whether the IPI / halt counters of struct cvm_vcpu_stats are meaningful. */
	bool sees_halts;
	/* System calls the mode's hooks make, per thread class (docs/seccomp.md); NULL: none. */
	const struct cvm_seccomp_list *seccomp[CVM_THREAD_NCLASSES];
};

extern const struct cvm_irqchip_ops cvm_irqchip_kernel_ops;

#endif
