/*
 * Local APIC timers on one host thread for all vCPUs: each vCPU publishes its
 * next deadline (due_ns); the timer thread sleeps on a futex until the
 * earliest one, then notifies every vCPU that is due (events flag and kick);
 * the vCPU's thread expires the core's timer itself. An arm bumps the futex
 * word, so a deadline published while the thread scans is never slept past.
 * The thread confines itself with the `apic timer` seccomp filter before it
 * does anything else, and its start returns only once it has (docs/seccomp.md).
 */
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/irqchip_user.h"
#include "vmm/sandbox.h"
#include "vmm/test_hook.h"

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleeps while *w == seen, until the absolute CLOCK_MONOTONIC time `until` (or forever). */
static void futex_wait_until(_Atomic uint32_t *w, uint32_t seen, uint64_t until)
{
	struct timespec ts = {.tv_sec = (time_t)(until / 1000000000ull),
	                      .tv_nsec = (long)(until % 1000000000ull)};

	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_BITSET_PRIVATE, seen,
	        until == CVM_NO_DEADLINE ? NULL : &ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void *timer_thread(void *arg)
{
	struct cvm_vm *vm = arg;
	struct cvm_uchip *c = cvm_uchip(vm);

	prctl(PR_SET_TIMERSLACK, 1UL); /* the default 50 us slack would make every expiry late */
	int e = cvm_vm_sandbox_load(vm, CVM_THREAD_TIMER, &c->timer_prog);
	/* Tell thread_create how that went; it waits for the answer. */
	atomic_store(&c->timer_ready, e < 0 ? (uint32_t)e : 1u);
	futex_wake(&c->timer_ready);
	if (e < 0)
		return NULL; /* never runs unconfined; thread_create reports it */
	cvm_test_hook_sandboxed(CVM_THREAD_TIMER, 0);
	while (!atomic_load(&c->timer_stop)) {
		uint32_t seq = atomic_load(&c->timer_seq);
		uint64_t now = cvm_uchip_now(), next = CVM_NO_DEADLINE;

		for (unsigned int i = 0; i < vm->ncpus; i++) {
			uint64_t d = atomic_load(&c->v[i].due_ns);
			if (d == CVM_NO_DEADLINE)
				continue;
			if (d > now) {
				next = d < next ? d : next;
				continue;
			}
			/* Due: unless the vCPU re-armed meanwhile, it is told once. */
			if (atomic_compare_exchange_strong(&c->v[i].due_ns, &d, CVM_NO_DEADLINE))
				cvm_uchip_notify(&vm->vcpu[i]);
		}
		atomic_store(&c->timer_next, next);
		futex_wait_until(&c->timer_seq, seq, next);
	}
	return NULL;
}

static int thread_create(struct cvm_vm *vm)
{
	struct cvm_uchip *c = cvm_uchip(vm);
	sigset_t all, old;
	int e;

	atomic_store(&c->timer_stop, false);
	atomic_store(&c->timer_ready, 0);
	/* Built here, loaded by the thread: it never allocates (docs/seccomp.md). */
	e = cvm_vm_sandbox_build(vm, CVM_THREAD_TIMER, NULL, &c->timer_prog);
	if (e < 0)
		return e;
	/* No signal for this thread: kicks are for vCPU threads only. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	e = -pthread_create(&c->timer_thread, NULL, timer_thread, vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e == 0) {
		c->timer_thread_started = true;
		/* No guest runs before every corevm thread is confined: wait for its filter. */
		while (atomic_load(&c->timer_ready) == 0)
			futex_wait_until(&c->timer_ready, 0, CVM_NO_DEADLINE);
		e = (int)atomic_load(&c->timer_ready);
		e = e < 0 ? e : 0; /* failed: the thread has ended; thread_destroy joins it */
	}
	cvm_seccomp_prog_free(&c->timer_prog);
	return e;
}

static void thread_destroy(struct cvm_vm *vm)
{
	struct cvm_uchip *c = cvm_uchip(vm);

	if (!c->timer_thread_started)
		return;
	atomic_store(&c->timer_stop, true);
	atomic_fetch_add(&c->timer_seq, 1);
	futex_wake(&c->timer_seq);
	pthread_join(c->timer_thread, NULL);
	c->timer_thread_started = false;
}

static int thread_thread_init(struct cvm_vcpu *v)
{
	(void)v;
	return 0;
}

static void thread_thread_exit(struct cvm_vcpu *v)
{
	atomic_store(&cvm_uvcpu(v)->due_ns, CVM_NO_DEADLINE);
}

static void thread_arm(struct cvm_vcpu *v, uint64_t deadline, uint64_t now)
{
	struct cvm_uchip *c = cvm_uchip(v->vm);
	struct cvm_uvcpu *u = cvm_uvcpu(v);

	(void)now;
	if (atomic_load_explicit(&u->due_ns, memory_order_relaxed) == deadline)
		return;
	atomic_store(&u->due_ns, deadline);
	if (deadline == CVM_NO_DEADLINE)
		return;
	atomic_fetch_add(&c->timer_seq, 1);
	if (deadline < atomic_load(&c->timer_next))
		futex_wake(&c->timer_seq);
}

const struct cvm_apic_timer_ops cvm_apic_timer_thread_ops = {
        .name = "thread",
        .create = thread_create,
        .destroy = thread_destroy,
        .thread_init = thread_thread_init,
        .thread_exit = thread_thread_exit,
        .arm = thread_arm,
        .sleep_timeout = false,
};
