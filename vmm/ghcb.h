/*
 * The GHCB MSR protocol (MSR 0xC0010130) as corevm implements it for any
 * guest: the AP reset hold request (0x006) and its response (0x007); every
 * other request is answered as unsupported. docs/protected-state.md.
 *
 * The guest's WRMSR reaches corevm as an MSR exit (the MSR filter denies the
 * MSR to KVM) and is the request itself: there is no VMGEXIT here. The
 * response is what the guest's next RDMSR of the MSR returns, delivered
 * through that RDMSR's exit (KVM completes the instruction), as KVM's own
 * GHCB handling answers an SEV-ES guest through the GHCB MSR: no register of
 * the vCPU is written for it.
 */
#ifndef COREVM_VMM_GHCB_H
#define COREVM_VMM_GHCB_H

#include <stdint.h>

#include "vmm/vm_internal.h"

#define CVM_MSR_GHCB                0xc0010130u
#define CVM_GHCB_INFO_MASK          0xfffull /* GHCBInfo: bits 11:0; GHCBData: bits 63:12 */
#define CVM_GHCB_AP_RESET_HOLD_REQ  0x006u
#define CVM_GHCB_AP_RESET_HOLD_RESP 0x007u

/* What a value written to the GHCB MSR asks for. */
enum cvm_ghcb_req {
	CVM_GHCB_HOLD = 0,    /* 0x006 with GHCBData 0: AP reset hold */
	CVM_GHCB_MALFORMED,   /* 0x006 with GHCBData not 0 (the request has no data) */
	CVM_GHCB_UNSUPPORTED, /* any other GHCBInfo */
};

/* Pure: the request a written value makes. */
enum cvm_ghcb_req cvm_ghcb_classify(uint64_t value);

/* The response a woken AP reads: 0x007 with GHCBData 1 (non-zero). */
#define CVM_GHCB_HOLD_WOKEN ((1ull << 12) | CVM_GHCB_AP_RESET_HOLD_RESP)
/* Preset when the hold starts: 0x007 with GHCBData 0 ("not woken by INIT-SIPI": ask again). */
#define CVM_GHCB_HOLD_PENDING ((uint64_t)CVM_GHCB_AP_RESET_HOLD_RESP)

/*
 * An RDMSR or WRMSR exit of CVM_MSR_GHCB on v's own thread (any irqchip
 * mode): reads return the MSR's value; a hold request asks the irqchip's
 * ap_reset_hold hook, other writes are unsupported requests: the value stays
 * as written (no response code), one line per request (rate-limited per VM),
 * counted. Never a #GP; never ends the VM. Sets run->msr.error and .data.
 */
enum cvm_vcpu_action cvm_ghcb_msr_exit(struct cvm_vcpu *v, struct kvm_run *run);

/* HOLD_RELEASE on v's own thread: the next read returns CVM_GHCB_HOLD_WOKEN. */
void cvm_ghcb_hold_released(struct cvm_vcpu *v);

/*
 * For irqchip modes that do not install their own MSR filter (kernel,
 * split): exits of CVM_MSR_GHCB to corevm (KVM_CAP_X86_USER_SPACE_MSR with
 * reason FILTER, a filter denying that MSR). Without the capabilities the
 * MSR stays KVM's (a #GP for the guest). Returns 0 or -errno.
 */
int cvm_ghcb_vm_init(struct cvm_vm *vm);

/* The MSR filter range that sends CVM_MSR_GHCB to corevm (bitmap points at static storage). */
struct kvm_msr_filter_range cvm_ghcb_filter_range(void);

#endif
