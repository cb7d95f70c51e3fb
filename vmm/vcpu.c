/* The vCPU thread: an explicit state machine around KVM_RUN, with a mailbox and a kick. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "vmm/sandbox.h"
#include "vmm/test_hook.h"
#include "vmm/vm_internal.h"

#define CVM_VCPU_STACK_SIZE (256 * 1024)

static const char *const state_names[CVM_VCPU_NSTATES] = {
        [CVM_VCPU_CREATED] = "created", [CVM_VCPU_RUNNING] = "running",
        [CVM_VCPU_IN_VMM] = "in-vmm",   [CVM_VCPU_BLOCKED] = "blocked",
        [CVM_VCPU_EXITING] = "exiting", [CVM_VCPU_DONE] = "done",
};

const char *cvm_vcpu_state_name(enum cvm_vcpu_state s)
{
	return (unsigned int)s < CVM_VCPU_NSTATES ? state_names[s] : "?";
}

static pid_t process_id; /* for tgkill, set once before any vCPU thread starts */

/* The kick signal: real-time, handled by a function that does nothing. */
static int kick_signal(void)
{
	return SIGRTMIN;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int cvm_vcpu_signals_init(void)
{
	struct sigaction sa;
	sigset_t set;

	process_id = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal(), &sa, NULL) < 0)
		return -errno;
	/* Blocked everywhere outside KVM_RUN; KVM_SET_SIGNAL_MASK unblocks it inside. */
	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

void cvm_mailbox_init(struct cvm_mailbox *mb)
{
	pthread_mutex_init(&mb->lock, NULL);
	pthread_cond_init(&mb->cond, NULL);
	atomic_init(&mb->pending, 0);
	mb->posted = mb->answered = 0;
	mb->closed = 0;
}

void cvm_mailbox_destroy(struct cvm_mailbox *mb)
{
	pthread_cond_destroy(&mb->cond);
	pthread_mutex_destroy(&mb->lock);
}

/*
 * tgkill on the thread's kernel id rather than pthread_kill: a vCPU that sends
 * an IPI may kick a thread that has already ended and been joined (the VM is
 * stopping); a stale id then gives ESRCH instead of touching freed memory.
 */
void cvm_vcpu_kick(struct cvm_vcpu *v)
{
	pid_t tid;

	if (cvm_probing(v))
		__cvm_probe_kick(v);
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	tid = atomic_load(&v->tid);
	if (tid > 0)
		syscall(SYS_tgkill, process_id, tid, kick_signal());
}

uint64_t cvm_vcpu_post(struct cvm_vcpu *v, unsigned int req)
{
	struct cvm_mailbox *mb = &v->mbox;
	uint64_t ticket;
	int closed;

	pthread_mutex_lock(&mb->lock);
	ticket = ++mb->posted;
	closed = mb->closed;
	if (closed)
		mb->answered = ticket; /* nobody left to act on it: answered as done */
	else
		atomic_fetch_or(&mb->pending, req);
	pthread_cond_broadcast(&mb->cond); /* wakes the vCPU if it is BLOCKED */
	pthread_mutex_unlock(&mb->lock);
	if (!closed) {
		cvm_vcpu_kick(v);
		if (v->vm && v->vm->irqchip->wake)
			v->vm->irqchip->wake(v);
	}
	return ticket;
}

int cvm_vcpu_wait_answer(struct cvm_vcpu *v, uint64_t ticket, const struct timespec *deadline)
{
	struct cvm_mailbox *mb = &v->mbox;
	int r = 0;

	pthread_mutex_lock(&mb->lock);
	while (mb->answered < ticket && r == 0)
		r = pthread_cond_timedwait(&mb->cond, &mb->lock, deadline);
	r = mb->answered >= ticket ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&mb->lock);
	return r;
}

/* seq_cst: a waker stores its event, then reads the state; the vCPU stores the state, then reads its events. */
static void set_state(struct cvm_vcpu *v, enum cvm_vcpu_state s)
{
	v->stats.state_entries[s]++;
	atomic_store_explicit(&v->state, s, memory_order_seq_cst);
}

static enum cvm_vcpu_state get_state(struct cvm_vcpu *v)
{
	return atomic_load_explicit(&v->state, memory_order_relaxed);
}

/*
 * Takes every pending request and answers the tickets posted so far. Returns the
 * request bits taken. The caller acts on them before anything else.
 */
static unsigned int take_requests(struct cvm_vcpu *v)
{
	struct cvm_mailbox *mb = &v->mbox;
	unsigned int req;

	if (atomic_load_explicit(&mb->pending, memory_order_acquire) == 0)
		return 0;
	pthread_mutex_lock(&mb->lock);
	req = atomic_exchange(&mb->pending, 0);
	mb->answered = mb->posted;
	pthread_cond_broadcast(&mb->cond);
	pthread_mutex_unlock(&mb->lock);
	v->stats.requests++;
	return req;
}

/* A kick that arrived outside KVM_RUN stays pending (blocked): consume it. */
static void eat_kick_signals(void)
{
	sigset_t set;
	struct timespec zero = {0, 0};

	sigemptyset(&set);
	sigaddset(&set, kick_signal());
	while (sigtimedwait(&set, NULL, &zero) >= 0)
		;
}

int cvm_vcpu_kick_signal(void)
{
	return kick_signal();
}

/* RUNNING: check the mailbox, then enter the guest until an exit that needs corevm. */
static void state_running(struct cvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned int req;
	int r, err;

	/* Clear first, then look: a kick after this point sets it again and is seen by KVM_RUN. */
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	req = take_requests(v);
	if (req & CVM_REQ_STOP) {
		set_state(v, CVM_VCPU_EXITING);
		return;
	}
	if ((req & CVM_REQ_REAFFINE) && !cvm_vcpu_place(v)) {
		set_state(v, CVM_VCPU_EXITING);
		return;
	}
	if (atomic_load_explicit(&v->vm->end_status, memory_order_acquire) >= 0) {
		set_state(v, CVM_VCPU_EXITING); /* the VM is ending: do not wait for STOP */
		return;
	}
	if (v->vm->irqchip->pre_entry) {
		switch (v->vm->irqchip->pre_entry(v)) {
		case CVM_VACT_BLOCK:
			set_state(v, CVM_VCPU_BLOCKED);
			return;
		case CVM_VACT_STOP:
			set_state(v, CVM_VCPU_EXITING);
			return;
		default:
			break;
		}
	}
	if (cvm_probing(v))
		__cvm_probe_entry(v);
	r = ioctl(v->fd, KVM_RUN, NULL);
	err = r < 0 ? errno : 0;
	if (cvm_probing(v))
		__cvm_probe_return(v, err);
	if (r == 0) {
		set_state(v, CVM_VCPU_IN_VMM);
		return;
	}
	switch (err) {
	case EINTR: /* kicked (immediate_exit or the signal): the irqchip looks again */
		v->stats.eintr++;
		v->reeval = true;
		eat_kick_signals();
		return;
	case EAGAIN: /* an UNINITIALIZED AP received INIT: run again */
		v->stats.eagain++;
		return;
	case EIO: { /* the host CPU could not enter the guest (seed 003) */
		char what[64];
		snprintf(what, sizeof(what), "KVM_RUN: %s", strerror(EIO));
		if (cvm_vcpu_entry_failed(v, CVM_EXIT_GUEST_ERROR, "entry failure", what) ==
		    CVM_VACT_STOP)
			set_state(v, CVM_VCPU_EXITING);
		return;
	}
	default: {
		char why[64];
		cvm_err("kvm", "KVM_RUN on vcpu %u: %s", v->index, strerror(err));
		snprintf(why, sizeof(why), "KVM_RUN failed on vcpu %u", v->index);
		cvm_vm_request_end(v->vm, CVM_EXIT_FAILURE, why);
		set_state(v, CVM_VCPU_EXITING);
	}
	}
}

/* IN_VMM: the exit is handled; next state from the handler's verdict. */
static void state_in_vmm(struct cvm_vcpu *v)
{
	switch (cvm_vcpu_handle_exit(v)) {
	case CVM_VACT_BLOCK:
		set_state(v, CVM_VCPU_BLOCKED);
		break;
	case CVM_VACT_STOP:
		set_state(v, CVM_VCPU_EXITING);
		break;
	default:
		set_state(v, CVM_VCPU_RUNNING);
		break;
	}
}

/*
 * BLOCKED: the irqchip's sleep (HLT, wait-for-SIPI) until an event or a request;
 * without a block hook, sleep on the mailbox until WAKE or STOP.
 */
static void state_blocked(struct cvm_vcpu *v)
{
	struct cvm_mailbox *mb = &v->mbox;
	unsigned int req;

	if (v->vm->irqchip->block) {
		enum cvm_vcpu_action a = v->vm->irqchip->block(v);
		v->reeval = true;
		set_state(v, a == CVM_VACT_STOP ? CVM_VCPU_EXITING : CVM_VCPU_RUNNING);
		return;
	}
	pthread_mutex_lock(&mb->lock);
	while (atomic_load(&mb->pending) == 0)
		pthread_cond_wait(&mb->cond, &mb->lock);
	pthread_mutex_unlock(&mb->lock);
	req = take_requests(v);
	if ((req & CVM_REQ_REAFFINE) && !cvm_vcpu_place(v))
		req |= CVM_REQ_STOP;
	if (!(req & (CVM_REQ_STOP | CVM_REQ_WAKE)))
		return; /* only a new CPU set: still halted */
	set_state(v, (req & CVM_REQ_STOP) ? CVM_VCPU_EXITING : CVM_VCPU_RUNNING);
}

/* EXITING: record the final MP state, answer everything, close the mailbox. */
static void state_exiting(struct cvm_vcpu *v)
{
	struct kvm_mp_state mp;
	struct cvm_mailbox *mb = &v->mbox;

	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0)
		v->stats.mp_state = (int)mp.mp_state;
	if (v->vm->irqchip->thread_exit)
		v->vm->irqchip->thread_exit(v); /* may override the MP state with its own */
	pthread_mutex_lock(&mb->lock);
	atomic_store(&mb->pending, 0);
	mb->answered = mb->posted;
	mb->closed = 1;
	pthread_cond_broadcast(&mb->cond);
	pthread_mutex_unlock(&mb->lock);
	set_state(v, CVM_VCPU_DONE);
}

static void *vcpu_thread(void *arg)
{
	struct cvm_vcpu *v = arg;
	bool ok;

	atomic_store(&v->tid, gettid());
	/*
	 * Its own CPU set first, from inside the thread (host placement); then the
	 * irqchip's per-thread set-up (it may create what the filter then forbids,
	 * e.g. the POSIX timer); then its filter, built by cvm_vcpu_start() so that
	 * this thread never allocates (docs/seccomp.md).
	 */
	ok = cvm_vcpu_place(v);
	if (ok && v->vm->irqchip->thread_init) {
		int e = v->vm->irqchip->thread_init(v);
		if (e < 0) {
			char why[64];
			cvm_err("vcpu", "setting up the thread of vcpu %u (irqchip %s): %s",
			        v->index, v->vm->irqchip->name, strerror(-e));
			snprintf(why, sizeof(why), "thread set-up failed on vcpu %u", v->index);
			cvm_vm_request_end(v->vm, CVM_EXIT_FAILURE, why);
			ok = false;
		}
	}
	if (ok && cvm_vm_sandbox_load(v->vm, CVM_THREAD_VCPU, &v->sc_prog) < 0) {
		cvm_vm_request_end(v->vm, CVM_EXIT_FAILURE, "seccomp failed");
		ok = false;
	}
	/* No guest entry before every thread's filter is in (cvm_vm_run opens the gate). */
	cvm_vm_gate_wait(v->vm);
	if (ok)
		cvm_test_hook_sandboxed(CVM_THREAD_VCPU, v->index);
	set_state(v, ok ? CVM_VCPU_RUNNING : CVM_VCPU_EXITING);
	for (;;) {
		switch (get_state(v)) {
		case CVM_VCPU_RUNNING:
			state_running(v);
			break;
		case CVM_VCPU_IN_VMM:
			state_in_vmm(v);
			break;
		case CVM_VCPU_BLOCKED:
			state_blocked(v);
			break;
		case CVM_VCPU_EXITING:
			state_exiting(v);
			break;
		case CVM_VCPU_DONE:
			return NULL;
		default:
			abort(); /* CREATED is left before the loop; nothing else exists */
		}
	}
}

/* The signal mask KVM applies during KVM_RUN: the thread's mask minus the kick signal. */
static int set_run_sigmask(struct cvm_vcpu *v)
{
	sigset_t cur;
	struct {
		struct kvm_signal_mask hdr;
		uint8_t bits[8];
	} m;

	pthread_sigmask(SIG_SETMASK, NULL, &cur);
	sigdelset(&cur, kick_signal());
	m.hdr.len = 8; /* the kernel's sigset_t, not glibc's 128-byte one */
	memcpy(m.bits, &cur, 8);
	if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &m) < 0)
		return -errno;
	return 0;
}

int cvm_vcpu_start(struct cvm_vcpu *v)
{
	pthread_attr_t attr;
	int e = set_run_sigmask(v);

	if (e < 0) {
		cvm_err("kvm", "KVM_SET_SIGNAL_MASK on vcpu %u: %s", v->index, strerror(-e));
		return e;
	}
	e = cvm_vm_sandbox_build(v->vm, CVM_THREAD_VCPU, v, &v->sc_prog);
	if (e < 0)
		return e;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CVM_VCPU_STACK_SIZE);
	atomic_store(&v->state, CVM_VCPU_CREATED);
	e = -pthread_create(&v->thread, &attr, vcpu_thread, v);
	pthread_attr_destroy(&attr);
	if (e < 0) {
		cvm_seccomp_prog_free(&v->sc_prog);
		cvm_err("vcpu", "starting the thread of vcpu %u: %s", v->index, strerror(-e));
		return e;
	}
	v->thread_started = 1;
	return 0;
}
