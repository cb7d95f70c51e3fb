/*
 * The one place where corevm hands state to a vCPU: every register write
 * (KVM_SET_REGS, SREGS, FPU, XCRS, MSRS, DEBUGREGS, VCPU_EVENTS and the
 * kvm_run sync-regs dirty bits), every injection and the TPR mirror go through
 * these functions, so that --protected-state is enforced here and nowhere else
 * (docs/protected-state.md; tests/vmm/regs_gate_only.sh checks that no other
 * file of vmm/ issues them).
 *
 * Classes (what --protected-state allows after launch):
 *   register write   KVM_SET_REGS/SREGS/FPU/XCRS/DEBUGREGS/VCPU_EVENTS, MSRs other
 *                    than the APIC's, sync-regs REGS/SREGS/EVENTS: refused after
 *                    launch, logged as a corevm bug (rate-limited), counted;
 *   injection        KVM_INTERRUPT, KVM_NMI, or the exit's own event state with
 *                    one interrupt or NMI added: allowed (SEV-ES guests still
 *                    receive interrupts; the VMM never sees their registers for it);
 *   APIC state       IA32_APIC_BASE through KVM_SET_MSRS (completing the guest's
 *                    own intercepted WRMSR) and CR8 as the TPR mirror: allowed (the
 *                    local APIC is corevm's device in user mode).
 * Before launch (cvm_vm_run() not yet called) everything is allowed: that is
 * where the BSP's entry and the APs' measured initial state are loaded.
 *
 * Call from the vCPU's own thread once it runs (before: the main thread).
 */
#ifndef COREVM_VMM_REGS_GATE_H
#define COREVM_VMM_REGS_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm_internal.h"

enum cvm_regset {
	CVM_REGSET_REGS = 0,  /* KVM_SET_REGS, struct kvm_regs */
	CVM_REGSET_SREGS,     /* KVM_SET_SREGS, struct kvm_sregs */
	CVM_REGSET_FPU,       /* KVM_SET_FPU, struct kvm_fpu */
	CVM_REGSET_XCRS,      /* KVM_SET_XCRS, struct kvm_xcrs */
	CVM_REGSET_MSRS,      /* KVM_SET_MSRS, struct kvm_msrs + entries */
	CVM_REGSET_DEBUGREGS, /* KVM_SET_DEBUGREGS, struct kvm_debugregs */
	CVM_REGSET_EVENTS,    /* KVM_SET_VCPU_EVENTS, struct kvm_vcpu_events */
	CVM_REGSET_NR,
};

/* The ioctl's name ("KVM_SET_SREGS"), "?" when out of range. */
const char *cvm_regset_name(unsigned int set);

/* Whether a register write to v would be refused now (protected state, after launch). */
bool cvm_regs_locked(const struct cvm_vcpu *v);

/*
 * Writes one register set with its ioctl through vm->ioctl. `data` is the
 * ioctl's argument. KVM_SET_MSRS whose entries are all IA32_APIC_BASE is APIC
 * state; anything else is a register write. Returns the ioctl's result (for
 * MSRS the number of entries set), -EPERM when refused, -EINVAL for a bad set.
 */
int cvm_regs_write(struct cvm_vcpu *v, enum cvm_regset set, void *data);

/*
 * The sync-regs path: the caller filled v->run->s.regs (regs, sregs, events);
 * `kvm_sync_bits` (KVM_SYNC_X86_REGS | _SREGS | _EVENTS) marks them for the
 * next KVM_RUN. A register write: 0 or -EPERM (nothing marked).
 */
int cvm_regs_write_sync(struct cvm_vcpu *v, uint64_t kvm_sync_bits);

/* Injection by ioctl: KVM_INTERRUPT (vector) or KVM_NMI. Always allowed; the ioctl's result. */
int cvm_regs_inject_intr_ioctl(struct cvm_vcpu *v, uint8_t vector);
int cvm_regs_inject_nmi_ioctl(struct cvm_vcpu *v);

/*
 * Injection through the exit's event state: the caller added exactly one
 * interrupt (interrupt.injected/nr) or one NMI (nmi.pending + 1) to
 * v->run->s.regs.events as KVM handed it out at the last exit, and changed
 * nothing else; this marks the events for the next KVM_RUN. Always allowed.
 */
void cvm_regs_inject_sync(struct cvm_vcpu *v);

/* The TPR mirror: KVM loads CR8 from kvm_run on every KVM_RUN without an in-kernel APIC. */
static inline void cvm_regs_set_cr8(struct cvm_vcpu *v, uint64_t cr8)
{
	v->run->cr8 = cr8;
}

/* Register writes refused on v so far. */
uint64_t cvm_regs_refused(const struct cvm_vcpu *v);

#endif
