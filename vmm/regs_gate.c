/* The enforcement point of --protected-state: every write of vCPU state, classified (regs_gate.h). */
#include "vmm/regs_gate.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/lapic.h"
#include "util/log.h"

static const struct {
	unsigned long req;
	const char *name;
} regsets[CVM_REGSET_NR] = {
        [CVM_REGSET_REGS] = {KVM_SET_REGS, "KVM_SET_REGS"},
        [CVM_REGSET_SREGS] = {KVM_SET_SREGS, "KVM_SET_SREGS"},
        [CVM_REGSET_FPU] = {KVM_SET_FPU, "KVM_SET_FPU"},
        [CVM_REGSET_XCRS] = {KVM_SET_XCRS, "KVM_SET_XCRS"},
        [CVM_REGSET_MSRS] = {KVM_SET_MSRS, "KVM_SET_MSRS"},
        [CVM_REGSET_DEBUGREGS] = {KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS"},
        [CVM_REGSET_EVENTS] = {KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS"},
};

const char *cvm_regset_name(unsigned int set)
{
	return set < CVM_REGSET_NR ? regsets[set].name : "?";
}

bool cvm_regs_locked(const struct cvm_vcpu *v)
{
	return v->vm->protected_state && atomic_load(&v->vm->launched);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * A register write: allowed unless the VM has protected state and was
 * launched. A refusal is a corevm bug (the lifecycle never asks for one):
 * logged (rate-limited), counted, and the write does not happen.
 */
static bool allow(struct cvm_vcpu *v, const char *what)
{
	if (!cvm_regs_locked(v)) {
		v->stats.reg_writes++;
		return true;
	}
	atomic_fetch_add(&v->reg_refused, 1);
	if (cvm_ratelimit_allow(&v->vm->reg_log, now_ns()))
		cvm_err("protected",
		        "corevm bug: %s on vcpu %u after launch refused (--protected-state: no "
		        "register is written)",
		        what, v->index);
	return false;
}

/* KVM_SET_MSRS that only completes the guest's own IA32_APIC_BASE write (APIC state). */
static bool apic_msrs_only(const struct kvm_msrs *m)
{
	if (m->nmsrs == 0)
		return false;
	for (uint32_t i = 0; i < m->nmsrs; i++)
		if (m->entries[i].index != CVM_MSR_APIC_BASE)
			return false;
	return true;
}

int cvm_regs_write(struct cvm_vcpu *v, enum cvm_regset set, void *data)
{
	if ((unsigned int)set >= CVM_REGSET_NR || !data)
		return -EINVAL;
	if (set == CVM_REGSET_MSRS && apic_msrs_only(data))
		return v->vm->ioctl(v->fd, KVM_SET_MSRS, data);
	if (!allow(v, regsets[set].name))
		return -EPERM;
	return v->vm->ioctl(v->fd, regsets[set].req, data);
}

int cvm_regs_write_sync(struct cvm_vcpu *v, uint64_t kvm_sync_bits)
{
	const char *what = (kvm_sync_bits & KVM_SYNC_X86_REGS)    ? "kvm_run sync regs (REGS)"
	                   : (kvm_sync_bits & KVM_SYNC_X86_SREGS) ? "kvm_run sync regs (SREGS)"
	                                                          : "kvm_run sync regs (EVENTS)";

	if (!kvm_sync_bits)
		return 0;
	if (!allow(v, what))
		return -EPERM;
	v->run->kvm_dirty_regs |= kvm_sync_bits;
	return 0;
}

int cvm_regs_inject_intr_ioctl(struct cvm_vcpu *v, uint8_t vector)
{
	struct kvm_interrupt irq = {.irq = vector};

	return v->vm->ioctl(v->fd, KVM_INTERRUPT, &irq);
}

int cvm_regs_inject_nmi_ioctl(struct cvm_vcpu *v)
{
	return v->vm->ioctl(v->fd, KVM_NMI, NULL);
}

void cvm_regs_inject_sync(struct cvm_vcpu *v)
{
	v->run->kvm_dirty_regs |= KVM_SYNC_X86_EVENTS;
}

uint64_t cvm_regs_refused(const struct cvm_vcpu *v)
{
	return atomic_load(&((struct cvm_vcpu *)v)->reg_refused);
}
