/*
 * Local APIC timers on the vCPU's own thread: in the guest, a POSIX timer
 * (timer_create, SIGEV_THREAD_ID) sends the vCPU's kick signal at the deadline
 * and ends KVM_RUN; asleep, the futex wait times out at the deadline. Either
 * way the thread then expires the core's timer itself. The POSIX timer is
 * armed lazily: a later deadline waits for the earlier expiry, a cancelled one
 * is left to fire once for nothing.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include "vmm/irqchip_user.h"

static int vcpu_create(struct cvm_vm *vm)
{
	(void)vm;
	return 0;
}

static void vcpu_destroy(struct cvm_vm *vm)
{
	(void)vm;
}

static int vcpu_thread_init(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = cvm_vcpu_kick_signal();
	sev._sigev_un._tid = atomic_load(&v->tid);
	if (timer_create(CLOCK_MONOTONIC, &sev, &u->htimer) < 0)
		return -errno;
	u->has_htimer = true;
	u->armed_ns = CVM_NO_DEADLINE;
	prctl(PR_SET_TIMERSLACK, 1UL); /* futex timeouts: no 50 us default slack */
	return 0;
}

static void vcpu_thread_exit(struct cvm_vcpu *v)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	if (u->has_htimer)
		timer_delete(u->htimer);
	u->has_htimer = false;
}

static void vcpu_arm(struct cvm_vcpu *v, uint64_t deadline, uint64_t now)
{
	struct cvm_uvcpu *u = cvm_uvcpu(v);
	struct itimerspec its;

	if (deadline == CVM_NO_DEADLINE || !u->has_htimer)
		return;
	if (u->armed_ns != CVM_NO_DEADLINE && u->armed_ns <= deadline) {
		if (!now)
			now = cvm_uchip_now();
		if (now < u->armed_ns)
			return; /* the earlier expiry brings the thread back to re-arm */
	}
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(deadline / 1000000000ull);
	its.it_value.tv_nsec = (long)(deadline % 1000000000ull);
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (timer_settime(u->htimer, TIMER_ABSTIME, &its, NULL) == 0)
		u->armed_ns = deadline;
}

const struct cvm_apic_timer_ops cvm_apic_timer_vcpu_ops = {
        .name = "vcpu",
        .create = vcpu_create,
        .destroy = vcpu_destroy,
        .thread_init = vcpu_thread_init,
        .thread_exit = vcpu_thread_exit,
        .arm = vcpu_arm,
        .sleep_timeout = true,
};
