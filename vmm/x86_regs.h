/*
 * The core's architectural register state (core/x86_reset.h) in KVM's
 * register structures and back: what the user irqchip loads into a vCPU for
 * INIT and SIPI. Pure: no ioctl, so unit tests check the conversion directly.
 */
#ifndef COREVM_VMM_X86_REGS_H
#define COREVM_VMM_X86_REGS_H

#include <linux/kvm.h>

#include "arch/x86/guest_abi.h"
#include "core/x86_reset.h"

/* KVM's segment from the core's (access rights unpacked; present-less means unusable). */
void cvm_seg_to_kvm(const struct cvm_x86_seg *s, struct kvm_segment *k);

/*
 * Writes r into KVM's general registers and special registers. `apic_base`
 * goes into sregs->apic_base (KVM_SET_SREGS applies it: it must be the
 * vCPU's current IA32_APIC_BASE); no interrupt is left pending in
 * interrupt_bitmap. CR8 comes from r->cr8.
 */
void cvm_regs_to_kvm(const struct cvm_x86_regs *r, uint64_t apic_base, struct kvm_regs *regs,
                     struct kvm_sregs *sregs);

/* The debug registers of r as KVM_SET_DEBUGREGS takes them. */
void cvm_regs_to_kvm_debug(const struct cvm_x86_regs *r, struct kvm_debugregs *d);

/*
 * What INIT keeps that the core's table reads from the current state: CR0
 * (for CD/NW) from KVM's special registers. Everything INIT sets anew needs no
 * current value.
 */
void cvm_regs_from_kvm_sregs(const struct kvm_sregs *sregs, struct cvm_x86_regs *r);

/*
 * The measured initial state of AP `vcpu` (>= 1) from a validated
 * AP initial-state note (arch/x86/guest_abi.h documents every register):
 * the RESET state of core/x86_reset.h with the mode's control registers,
 * flat segments for code_sel/data_sel, GDTR, RIP, RSP and RDI = vcpu.
 * `vcpu` must be <= n->nr_stacks.
 */
void cvm_regs_from_ap_init(const struct cvm_ap_init_note *n, unsigned int vcpu, uint32_t cpuid1_eax,
                           struct cvm_x86_regs *r);

#endif
