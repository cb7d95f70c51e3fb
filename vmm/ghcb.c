/* The GHCB MSR protocol: AP reset hold request and response, everything else unsupported (ghcb.h). */
#include "vmm/ghcb.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

enum cvm_ghcb_req cvm_ghcb_classify(uint64_t value)
{
	if ((value & CVM_GHCB_INFO_MASK) != CVM_GHCB_AP_RESET_HOLD_REQ)
		return CVM_GHCB_UNSUPPORTED;
	return (value & ~CVM_GHCB_INFO_MASK) ? CVM_GHCB_MALFORMED : CVM_GHCB_HOLD;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* A request corevm does not answer: the MSR keeps the written value, one line (rate-limited). */
static void refuse(struct cvm_vcpu *v, uint64_t value, const char *why)
{
	if (cvm_ratelimit_allow(&v->vm->ghcb_log, now_ns()))
		cvm_warn("ghcb",
		         "vcpu %u: GHCB MSR request 0x%03llx (value 0x%llx) %s: no response, the "
		         "guest keeps running",
		         v->index, (unsigned long long)(value & CVM_GHCB_INFO_MASK),
		         (unsigned long long)value, why);
}

static void write_request(struct cvm_vcpu *v, uint64_t value)
{
	int e;

	v->stats.ghcb_writes++;
	v->ghcb_msr = value; /* as written, until a response replaces it */
	switch (cvm_ghcb_classify(value)) {
	case CVM_GHCB_UNSUPPORTED:
		v->stats.ghcb_unsupported++;
		refuse(v, value, "is not supported");
		return;
	case CVM_GHCB_MALFORMED:
		v->stats.ghcb_malformed++;
		refuse(v, value, "is malformed (AP reset hold takes no data)");
		return;
	case CVM_GHCB_HOLD:
		break;
	}
	if (!v->vm->irqchip->ap_reset_hold) {
		v->stats.ghcb_no_hold_mode++;
		refuse(v, value,
		       "refused: --irqchip kernel and split leave INIT and SIPI to KVM, "
		       "which resets the registers (use --irqchip user)");
		return;
	}
	/* As KVM does: preset "not woken"; the release sets a non-zero GHCBData. */
	v->ghcb_msr = CVM_GHCB_HOLD_PENDING;
	e = v->vm->irqchip->ap_reset_hold(v);
	if (e == 0)
		v->stats.ghcb_holds++;
	else
		v->stats.ghcb_hold_ignored++; /* an INIT got there first: the guest asks again */
}

enum cvm_vcpu_action cvm_ghcb_msr_exit(struct cvm_vcpu *v, struct kvm_run *run)
{
	run->msr.error = 0;
	if (run->exit_reason == KVM_EXIT_X86_WRMSR) {
		write_request(v, run->msr.data);
	} else {
		v->stats.ghcb_reads++;
		run->msr.data = v->ghcb_msr;
	}
	return CVM_VACT_CONTINUE;
}

void cvm_ghcb_hold_released(struct cvm_vcpu *v)
{
	v->ghcb_msr = CVM_GHCB_HOLD_WOKEN;
	v->stats.ghcb_released++;
}

struct kvm_msr_filter_range cvm_ghcb_filter_range(void)
{
	static const uint8_t deny = 0; /* bit clear: the access exits to corevm */

	return (struct kvm_msr_filter_range){.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
	                                     .nmsrs = 1,
	                                     .base = CVM_MSR_GHCB,
	                                     .bitmap = (uint8_t *)&deny};
}

int cvm_ghcb_vm_init(struct cvm_vm *vm)
{
	struct kvm_enable_cap cap = {.cap = KVM_CAP_X86_USER_SPACE_MSR,
	                             .args = {KVM_MSR_EXIT_REASON_FILTER}};
	struct kvm_msr_filter filter = {.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
	                                .ranges = {cvm_ghcb_filter_range()}};
	int e;

	if (vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_X86_MSR_FILTER) <= 0 ||
	    vm->ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_X86_USER_SPACE_MSR) <=
	            0) {
		cvm_info("ghcb", "no MSR filter in this KVM: the GHCB MSR stays KVM's (#GP)");
		return 0;
	}
	e = vm->ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap);
	return e < 0 ? e : vm->ioctl(vm->vm_fd, KVM_X86_SET_MSR_FILTER, &filter);
}
