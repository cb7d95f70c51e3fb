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
#include "vmm/workq.h"

#define CVM_VCPU_STACK_SIZE (256 * 1024)

static const char *const state_names[CVM_VCPU_NSTATES] = {
        [CVM_VCPU_CREATED] = "created",
        [CVM_VCPU_RUNNING] = "running",
        [CVM_VCPU_IN_VMM] = "in-vmm",
        [CVM_VCPU_HALTED] = "halted",
        [CVM_VCPU_WAIT_SIPI] = "wait-for-sipi",
        [CVM_VCPU_RESET_HOLD] = "reset-hold",
        [CVM_VCPU_PAUSED] = "paused",
        [CVM_VCPU_EXITING] = "exiting",
        [CVM_VCPU_DONE] = "done",
};

const char *cvm_vcpu_state_name(enum cvm_vcpu_state s)
{
	return (unsigned int)s < CVM_VCPU_NSTATES ? state_names[s] : "?";
}

static pid_t process_id; /* for tgkill, set once before any vCPU thread starts */

_Thread_local struct cvm_vcpu *cvm_self_vcpu;

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

	atomic_fetch_add(&v->kicks, 1); /* before the signal: samplers compare it afterwards */
	if (cvm_probing(v))
		__cvm_probe_kick(v);
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_seq_cst);
	tid = atomic_load(&v->tid);
	if (tid > 0)
		syscall(SYS_tgkill, process_id, tid, kick_signal());
}

void cvm_vcpu_signal_runnable(struct cvm_vcpu *v)
{
	uint64_t one = 1;

	if (atomic_load_explicit(&v->efd_on, memory_order_acquire)) {
		ssize_t unused = write(v->efd, &one, sizeof(one));
		(void)unused;
		v->stats.work.efd_signals++;
	}
}

/* Posts `req`, withdrawing the pending bits `withdraw` (resume withdraws a pause). */
static uint64_t post(struct cvm_vcpu *v, unsigned int req, unsigned int withdraw)
{
	struct cvm_mailbox *mb = &v->mbox;
	uint64_t ticket;
	int closed;

	pthread_mutex_lock(&mb->lock);
	ticket = ++mb->posted;
	closed = mb->closed;
	if (closed) {
		mb->answered = ticket; /* nobody left to act on it: answered as done */
	} else {
		atomic_fetch_and(&mb->pending, ~withdraw);
		atomic_fetch_or(&mb->pending, req);
	}
	pthread_cond_broadcast(&mb->cond); /* wakes the vCPU if it is PAUSED */
	pthread_mutex_unlock(&mb->lock);
	if (!closed) {
		cvm_vcpu_kick(v);
		if (v->vm && v->vm->irqchip->wake)
			v->vm->irqchip->wake(v);
	}
	return ticket;
}

uint64_t cvm_vcpu_post(struct cvm_vcpu *v, unsigned int req)
{
	return post(v, req, 0);
}

int cvm_vm_vcpu_pause(struct cvm_vm *vm, unsigned int i)
{
	if (i >= vm->ncpus)
		return -EINVAL;
	post(&vm->vcpu[i], CVM_REQ_PAUSE, CVM_REQ_RESUME);
	return 0;
}

int cvm_vm_vcpu_resume(struct cvm_vm *vm, unsigned int i)
{
	if (i >= vm->ncpus)
		return -EINVAL;
	post(&vm->vcpu[i], CVM_REQ_RESUME, CVM_REQ_PAUSE);
	return 0;
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

/*
 * seq_cst: a waker (an event, a work item, a request) stores its news, then
 * reads the state; the vCPU stores the state, then reads its news. One of them
 * sees the other (docs/idle-work.md, "the state word").
 */
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

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The asleep state for an MP state KVM reports (kernel, split), or 0 when it can run. */
static enum cvm_vcpu_state kvm_asleep_state(uint32_t mp)
{
	switch (mp) {
	case KVM_MP_STATE_HALTED:
		return CVM_VCPU_HALTED;
	case KVM_MP_STATE_UNINITIALIZED:
	case KVM_MP_STATE_INIT_RECEIVED:
		return CVM_VCPU_WAIT_SIPI;
	case KVM_MP_STATE_AP_RESET_HOLD:
		return CVM_VCPU_RESET_HOLD;
	default:
		return (enum cvm_vcpu_state)0;
	}
}

/*
 * Idle work with KVM's local APICs (kernel, split), between two chunks: has
 * the halted vCPU become runnable? KVM moves a halted vCPU's MP state only
 * inside KVM_RUN, and checks immediate_exit before that but a pending signal
 * after it: so the thread sends itself the kick signal and enters KVM_RUN,
 * which updates the MP state and returns EINTR without running the guest,
 * then reads the MP state (docs/idle-work.md, "kernel and split"). An exit
 * instead (cannot happen with the signal pending) is handled as usual.
 */
static bool kvm_idle_stop(struct cvm_vcpu *v)
{
	struct kvm_mp_state mp;
	enum cvm_vcpu_state st;
	int r;

	if (v->kvm_woke || v->kvm_exit_pending)
		return true;
	if (atomic_load(&v->mbox.pending) || cvm_workq_urgent_pending(v))
		return true;
	if (v->stats.work.idle_chunks == v->kvm_look_chunks)
		return false; /* nothing ran since the last look */
	v->kvm_look_chunks = v->stats.work.idle_chunks;
	v->stats.work.kvm_halt_looks++;
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_RELAXED);
	syscall(SYS_tgkill, process_id, gettid(), kick_signal());
	r = ioctl(v->fd, KVM_RUN, NULL);
	if (r == 0) {
		v->kvm_exit_pending = true;
		return true;
	}
	atomic_fetch_add(&v->run_eintr, 1);
	eat_kick_signals();
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return true;
	st = kvm_asleep_state(mp.mp_state);
	if (!st) {
		v->kvm_woke = true;
		return true;
	}
	if ((int)st != atomic_load_explicit(&v->state, memory_order_relaxed))
		set_state(v, st); /* e.g. HALTED -> wait-for-SIPI after an INIT */
	return false;
}

/*
 * Kernel, split: asked to look (CVM_WREQ_IDLE_LOOK, the work queue's sampler
 * saw the vCPU halted inside KVM): read the MP state; if the vCPU cannot run,
 * run idle work in the matching asleep state, then go back into KVM_RUN
 * (RUNNING), or handle an exit. Returns false when it did nothing.
 */
static bool kvm_idle(struct cvm_vcpu *v)
{
	struct kvm_mp_state mp;
	enum cvm_vcpu_state st;
	uint64_t t0;

	v->stats.work.kvm_halt_looks++;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return false;
	st = kvm_asleep_state(mp.mp_state);
	if (!st)
		return false;
	t0 = now_ns();
	set_state(v, st);
	v->kvm_woke = v->kvm_exit_pending = false;
	v->kvm_look_chunks = v->stats.work.idle_chunks;
	cvm_workq_run_idle(v, kvm_idle_stop);
	v->stats.work.asleep_ns += now_ns() - t0;
	if (v->kvm_woke)
		cvm_vcpu_signal_runnable(v);
	set_state(v, v->kvm_exit_pending ? CVM_VCPU_IN_VMM : CVM_VCPU_RUNNING);
	return true;
}

/* RUNNING: check the mailbox and urgent work, then enter the guest until an exit that needs corevm. */
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
	if (req & CVM_REQ_PAUSE) {
		set_state(v, CVM_VCPU_PAUSED);
		return;
	}
	/* Urgent work runs before the guest, in IN_VMM; then look again from the top. */
	if (cvm_workq_urgent_pending(v)) {
		set_state(v, CVM_VCPU_IN_VMM);
		cvm_workq_run_urgent(v);
		set_state(v, CVM_VCPU_RUNNING);
		return;
	}
	if (atomic_load(&v->work_req)) {
		unsigned int wr = atomic_exchange(&v->work_req, 0);
		if (wr & CVM_WREQ_SIGNAL)
			cvm_vcpu_signal_runnable(v);
		if ((wr & CVM_WREQ_IDLE_LOOK) && kvm_idle(v))
			return;
	}
	if (v->vm->irqchip->pre_entry) {
		switch (v->vm->irqchip->pre_entry(v)) {
		case CVM_VACT_BLOCK:
			set_state(v, v->sleep_state ? (enum cvm_vcpu_state)v->sleep_state
			                            : CVM_VCPU_HALTED);
			return;
		case CVM_VACT_STOP:
			set_state(v, CVM_VCPU_EXITING);
			return;
		default:
			break;
		}
	}
	atomic_fetch_add(&v->entries, 1); /* after the urgent-work check: docs/idle-work.md */
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
		atomic_fetch_add(&v->run_eintr, 1);
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
		set_state(v,
		          v->sleep_state ? (enum cvm_vcpu_state)v->sleep_state : CVM_VCPU_HALTED);
		break;
	case CVM_VACT_STOP:
		set_state(v, CVM_VCPU_EXITING);
		break;
	default:
		set_state(v, CVM_VCPU_RUNNING);
		break;
	}
}

/* Asleep: something for the vCPU other than idle work (checked between idle chunks). */
static bool asleep_interrupted(struct cvm_vcpu *v)
{
	const struct cvm_irqchip_ops *ic = v->vm->irqchip;

	return atomic_load(&v->mbox.pending) || cvm_workq_urgent_pending(v) ||
	       (ic->wake_pending && ic->wake_pending(v));
}

/*
 * HALTED, WAIT_SIPI, RESET_HOLD (irqchips that own HLT and wait-for-SIPI):
 * urgent work, then idle work in chunks until something for the vCPU arrives
 * (an event it can take, a request, urgent work), then the irqchip's sleep,
 * which returns at once if anything (work included) is pending. A wake-up for
 * work only keeps the vCPU asleep; anything else sends it back to RUNNING,
 * where the irqchip looks at its events.
 */
static void state_asleep(struct cvm_vcpu *v)
{
	const struct cvm_irqchip_ops *ic = v->vm->irqchip;
	uint64_t t0 = now_ns();

	for (;;) {
		if (cvm_workq_urgent_pending(v))
			cvm_workq_run_urgent(v);
		if (!ic->block || asleep_interrupted(v))
			break;
		if (cvm_workq_run_idle(v, asleep_interrupted))
			continue;
		if (ic->block(v) == CVM_VACT_STOP) {
			v->stats.work.asleep_ns += now_ns() - t0;
			set_state(v, CVM_VCPU_EXITING);
			return;
		}
	}
	v->stats.work.asleep_ns += now_ns() - t0;
	v->reeval = true;
	atomic_fetch_add(&v->wakeups, 1);
	set_state(v, CVM_VCPU_RUNNING);
}

/* PAUSED: a request or urgent work ends running idle work (checked between chunks). */
static bool paused_interrupted(struct cvm_vcpu *v)
{
	return atomic_load(&v->mbox.pending) || cvm_workq_urgent_pending(v);
}

/*
 * PAUSED (a PAUSE request): no guest code until RESUME or STOP. The thread
 * runs urgent and idle work meanwhile and sleeps on the mailbox's condition
 * (the work queue broadcasts it for work, the mailbox for requests).
 */
static void state_paused(struct cvm_vcpu *v)
{
	struct cvm_mailbox *mb = &v->mbox;
	uint64_t t0 = now_ns();
	enum cvm_vcpu_state next;

	for (;;) {
		unsigned int req;
		if (cvm_workq_urgent_pending(v))
			cvm_workq_run_urgent(v);
		req = take_requests(v);
		if ((req & CVM_REQ_STOP) || ((req & CVM_REQ_REAFFINE) && !cvm_vcpu_place(v)) ||
		    atomic_load_explicit(&v->vm->end_status, memory_order_acquire) >= 0) {
			next = CVM_VCPU_EXITING;
			break;
		}
		if (req & CVM_REQ_RESUME) {
			next = CVM_VCPU_RUNNING;
			v->reeval = true;
			break;
		}
		if (cvm_workq_run_idle(v, paused_interrupted))
			continue;
		pthread_mutex_lock(&mb->lock);
		while (!atomic_load(&mb->pending) && !cvm_workq_pending(v))
			pthread_cond_wait(&mb->cond, &mb->lock);
		pthread_mutex_unlock(&mb->lock);
	}
	v->stats.work.asleep_ns += now_ns() - t0;
	set_state(v, next);
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
	cvm_self_vcpu = v;
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
		case CVM_VCPU_HALTED:
		case CVM_VCPU_WAIT_SIPI:
		case CVM_VCPU_RESET_HOLD:
			state_asleep(v);
			break;
		case CVM_VCPU_PAUSED:
			state_paused(v);
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
