/*
 * The per-VM work queue (vmm/workq.h): bounded intrusive lists per priority and
 * per vCPU under one lock, the choice and kick of a vCPU for urgent work, idle
 * chunks on asleep vCPU threads, the worker thread (background work, and with
 * KVM's local APICs the sampling of KVM's halts), and completion exactly once.
 */
#include "vmm/workq.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "util/log.h"
#include "vmm/sandbox.h"
#include "vmm/test_hook.h"
#include "vmm/vm_internal.h"

/* struct cvm_work.phase */
enum { PH_IDLE = 0, PH_QUEUED, PH_RUNNING, PH_COMPLETE };

/* struct cvm_work.list while queued */
enum { L_NONE = -1, L_URGENT_ANY = -2, L_IDLE_ANY = -3, L_BACKGROUND = -4 };
/* >= 0: vCPU i's urgent list is 2i, its idle list 2i + 1 */

struct wlist {
	struct cvm_work *head, *tail;
	atomic_uint n; /* read without the lock by vCPU threads deciding whether to look */
};

struct cvm_vcpu_wq {
	struct wlist urgent, idle;
} __attribute__((aligned(64)));

/* How many vCPUs' KVM statistics one urgent pick may read (0.5 us each). */
#define PICK_GUEST_IDLE_LOOKS 16

struct cvm_workq {
	struct cvm_vm *vm;
	pthread_mutex_t lock;
	struct wlist urgent_any, idle_any, background;
	struct cvm_vcpu_wq *v; /* [ncpus] */
	unsigned int cap;
	unsigned int outstanding[CVM_WORK_NPRIO]; /* accepted, not complete (under lock) */
	bool shut;                                /* under lock; also read racily as a hint */
	atomic_uint pick;                         /* rotating start of vCPU choices */

	/* The worker. */
	pthread_t worker;
	bool worker_started;
	bool ever_started; /* under lock: the VM ran; with seccomp no eventfd can be added */
	int worker_state; /* under lock: 0 starting, 1 confined and running, -1 its filter failed */
	pthread_cond_t cond;    /* the worker waits here (under lock) */
	bool stop_worker;       /* under lock */
	bool sample_halts;      /* kernel, split: sample KVM's blocking statistic */
	uint8_t *last_blocking; /* worker only, [ncpus]: 0, 1, or 2 (left a halt: judge next) */
	bool *efd_seen;         /* worker only, [ncpus]: the eventfd's first look was taken */
	uint64_t *last_eintr;   /* worker only, [ncpus] */

	/* Counters (any thread). */
	_Atomic uint64_t submitted[CVM_WORK_NPRIO], completed[CVM_WORK_NPRIO];
	_Atomic uint64_t cancelled[CVM_WORK_NPRIO], shutdown_cancelled[CVM_WORK_NPRIO];
	_Atomic uint64_t refused_full[CVM_WORK_NPRIO], refused_shut, refused_bad;
	_Atomic uint64_t urgent_kicks, urgent_wakes, urgent_no_kick;
	_Atomic uint64_t idle_wakes;
	_Atomic uint64_t bg_chunks, bg_ns;
	_Atomic uint64_t samples, sample_kicks, sample_efd;
	atomic_uint reported; /* bit per refusal kind already reported */
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

const char *cvm_work_prio_name(enum cvm_work_prio p)
{
	static const char *const names[CVM_WORK_NPRIO] = {"idle", "urgent", "background"};

	return (unsigned int)p < CVM_WORK_NPRIO ? names[p] : "?";
}

void cvm_work_init(struct cvm_work *w, enum cvm_work_prio prio, cvm_work_fn fn, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->prio = (uint8_t)prio;
	w->vcpu = -1;
	w->budget_ns = CVM_WORK_BUDGET_DEFAULT_NS;
	w->ran_on = -1;
	w->list = L_NONE;
	atomic_init(&w->phase, PH_IDLE);
	atomic_init(&w->cancel_req, false);
}

/* ---- lists (under the lock) ---- */

static struct wlist *list_of(struct cvm_workq *q, int id)
{
	switch (id) {
	case L_URGENT_ANY:
		return &q->urgent_any;
	case L_IDLE_ANY:
		return &q->idle_any;
	case L_BACKGROUND:
		return &q->background;
	default:
		return id & 1 ? &q->v[id / 2].idle : &q->v[id / 2].urgent;
	}
}

/* seq_cst increment: the vCPU side reads `n` after publishing its state (docs/idle-work.md). */
static void push_tail(struct cvm_workq *q, int id, struct cvm_work *w)
{
	struct wlist *l = list_of(q, id);

	w->next = NULL;
	w->prev = l->tail;
	if (l->tail)
		l->tail->next = w;
	else
		l->head = w;
	l->tail = w;
	w->list = (int16_t)id;
	atomic_fetch_add(&l->n, 1);
}

static void unlink_item(struct cvm_workq *q, struct cvm_work *w)
{
	struct wlist *l = list_of(q, w->list);

	if (w->prev)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
	w->next = w->prev = NULL;
	w->list = L_NONE;
	atomic_fetch_sub(&l->n, 1);
}

static struct cvm_work *pop_head(struct cvm_workq *q, int id)
{
	struct cvm_work *w = list_of(q, id)->head;

	if (w)
		unlink_item(q, w);
	return w;
}

/* ---- completion ---- */

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/*
 * Completes `w` with `status`; the caller holds no lock and owns `w` (it is in
 * no list, and its phase is RUNNING or it was just unlinked). After the phase
 * is published the item is no longer touched (its owner may free it), except
 * for the futex wake on its address, which reads nothing.
 */
static void complete(struct cvm_workq *q, struct cvm_work *w, int status)
{
	cvm_work_done_fn done = w->done;
	void *arg = w->arg;
	unsigned int p = w->prio;

	pthread_mutex_lock(&q->lock);
	q->outstanding[p]--;
	pthread_mutex_unlock(&q->lock);
	if (status == 0)
		atomic_fetch_add(&q->completed[p], 1);
	else if (status == -ECANCELED)
		atomic_fetch_add(&q->cancelled[p], 1);
	else
		atomic_fetch_add(&q->shutdown_cancelled[p], 1);
	w->status = status;
	atomic_store_explicit(&w->phase, PH_COMPLETE, memory_order_release);
	futex_wake_all(&w->phase);
	if (done)
		done(arg, status);
}

/* ---- choosing and waking vCPUs ---- */

/* Ends the sleep of an asleep vCPU (irqchip futex, or the mailbox condition of PAUSED). */
static void wake_asleep(struct cvm_vcpu *v)
{
	struct cvm_mailbox *mb = &v->mbox;

	if (v->vm->irqchip && v->vm->irqchip->wake)
		v->vm->irqchip->wake(v);
	pthread_mutex_lock(&mb->lock);
	pthread_cond_broadcast(&mb->cond);
	pthread_mutex_unlock(&mb->lock);
}

/*
 * After making work visible to vCPU `v` (a seq_cst increment of a list count
 * it reads): read its state (seq_cst) and kick it (in the guest), wake it
 * (asleep) or leave it (in corevm: it looks before it enters or sleeps).
 * docs/idle-work.md shows why no wake-up is lost. Returns 1 for a kick, 2 for
 * a wake-up, 0 for nothing.
 */
static int notify(struct cvm_vcpu *v)
{
	int s = atomic_load(&v->state);

	if (s == CVM_VCPU_RUNNING) {
		cvm_vcpu_kick(v);
		return 1;
	}
	if (cvm_vcpu_state_asleep(s)) {
		wake_asleep(v);
		return 2;
	}
	return 0;
}

/* Lower is better: asleep, idle in the guest, in corevm, in the guest, not started, ending. */
static int rank(const struct cvm_vm *vm, unsigned int i, unsigned int *looks)
{
	int s = atomic_load(&vm->vcpu[i].state);

	if (cvm_vcpu_state_asleep(s))
		return 0;
	if (s == CVM_VCPU_RUNNING) {
		/* Not from a vCPU thread: its filter allows no pread (docs/seccomp.md). */
		if (*looks < PICK_GUEST_IDLE_LOOKS && vm->vcpu[i].stats_on && !cvm_self_vcpu) {
			(*looks)++;
			if (cvm_vm_vcpu_guest_idle(vm, i))
				return 1;
		}
		return 3;
	}
	if (s == CVM_VCPU_IN_VMM)
		return 2;
	return s == CVM_VCPU_CREATED ? 4 : 5;
}

/* The vCPU urgent work goes to: the best rank, ties broken by a rotating start. */
static unsigned int pick(struct cvm_workq *q)
{
	struct cvm_vm *vm = q->vm;
	unsigned int n = vm->ncpus, start = atomic_fetch_add(&q->pick, 1) % n;
	unsigned int best = start, looks = 0;
	int best_rank = 99;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = (start + k) % n;
		int r = rank(vm, i, &looks);
		if (r < best_rank) {
			best_rank = r;
			best = i;
			if (r == 0)
				break;
		}
	}
	return best;
}

/* Idle work: wake one vCPU asleep in corevm that may run it (none: the next to halt, or the sampler). */
static void wake_for_idle(struct cvm_workq *q, int target)
{
	struct cvm_vm *vm = q->vm;
	unsigned int n = vm->ncpus, start;

	if (target >= 0) {
		if (cvm_vcpu_state_asleep(atomic_load(&vm->vcpu[target].state))) {
			wake_asleep(&vm->vcpu[target]);
			atomic_fetch_add(&q->idle_wakes, 1);
		}
		return;
	}
	start = atomic_fetch_add(&q->pick, 1) % n;
	for (unsigned int k = 0; k < n; k++) {
		struct cvm_vcpu *v = &vm->vcpu[(start + k) % n];
		if (cvm_vcpu_state_asleep(atomic_load(&v->state))) {
			wake_asleep(v);
			atomic_fetch_add(&q->idle_wakes, 1);
			return;
		}
	}
}

/* ---- submission, cancellation, waiting ---- */

enum { REP_FULL = 1u, REP_SHUT = 2u, REP_BAD = 4u, REP_BUSY = 8u };

int __cvm_work_submit(struct cvm_vm *vm, struct cvm_work *w)
{
	struct cvm_workq *q = vm ? vm->wq : NULL;
	unsigned int p = w ? w->prio : CVM_WORK_NPRIO;
	int target = -1, list;
	uint32_t ph;

	if (!q || !w || !w->fn || p >= CVM_WORK_NPRIO ||
	    (w->vcpu != -1 && (w->vcpu < 0 || (unsigned int)w->vcpu >= vm->ncpus)) ||
	    (p == CVM_WORK_BACKGROUND && w->vcpu != -1) || w->budget_ns > CVM_WORK_BUDGET_MAX_NS) {
		if (q)
			atomic_fetch_add(&q->refused_bad, 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&q->lock);
	ph = atomic_load(&w->phase);
	if (ph == PH_QUEUED || ph == PH_RUNNING) {
		pthread_mutex_unlock(&q->lock);
		return -EBUSY;
	}
	if (q->shut) {
		pthread_mutex_unlock(&q->lock);
		atomic_fetch_add(&q->refused_shut, 1);
		return -ESHUTDOWN;
	}
	if (q->outstanding[p] >= q->cap) {
		pthread_mutex_unlock(&q->lock);
		atomic_fetch_add(&q->refused_full[p], 1);
		return -ENOSPC;
	}
	q->outstanding[p]++;
	if (!w->budget_ns)
		w->budget_ns = CVM_WORK_BUDGET_DEFAULT_NS;
	w->ran_on = -1;
	w->chunks = 0;
	w->kicks = 0;
	w->entries = 0;
	w->kick_to_run_ns = 0;
	w->status = 0;
	atomic_store(&w->cancel_req, false);
	switch (p) {
	case CVM_WORK_URGENT:
		target = w->vcpu >= 0 ? w->vcpu : (int)pick(q);
		list = w->vcpu >= 0 ? 2 * w->vcpu : L_URGENT_ANY;
		break;
	case CVM_WORK_IDLE:
		target = w->vcpu;
		list = w->vcpu >= 0 ? 2 * w->vcpu + 1 : L_IDLE_ANY;
		break;
	default:
		list = L_BACKGROUND;
		break;
	}
	w->target = target;
	w->kicks_base = target >= 0 ? atomic_load(&vm->vcpu[target].kicks) : 0;
	w->t_submit = now_ns();
	atomic_store_explicit(&w->phase, PH_QUEUED, memory_order_relaxed);
	push_tail(q, list, w);
	/* After the push (both seq_cst): at most one entry counted from here missed the item. */
	w->entries_base = target >= 0 ? atomic_load(&vm->vcpu[target].entries) : 0;
	atomic_fetch_add(&q->submitted[p], 1);
	if (p == CVM_WORK_BACKGROUND || (p == CVM_WORK_IDLE && q->sample_halts))
		pthread_cond_signal(&q->cond); /* the worker runs it / samples KVM's halts */
	pthread_mutex_unlock(&q->lock);
	/* `w` may be running or complete (and freed) from here on: only `target` is ours. */
	if (p == CVM_WORK_URGENT) {
		int how = notify(&vm->vcpu[target]);
		atomic_fetch_add(how == 1   ? &q->urgent_kicks
		                 : how == 2 ? &q->urgent_wakes
		                            : &q->urgent_no_kick,
		                 1);
	} else if (p == CVM_WORK_IDLE) {
		/* Asleep in corevm (user: halted; any mode: paused): wake one; the sampler finds KVM's. */
		wake_for_idle(q, target);
	}
	return 0;
}

int cvm_work_submit(struct cvm_vm *vm, struct cvm_work *w)
{
	int e = __cvm_work_submit(vm, w);
	unsigned int bit = e == -ENOSPC      ? REP_FULL
	                   : e == -ESHUTDOWN ? REP_SHUT
	                   : e == -EINVAL    ? REP_BAD
	                   : e == -EBUSY     ? REP_BUSY
	                                     : 0;

	if (!bit || (vm && vm->wq && (atomic_fetch_or(&vm->wq->reported, bit) & bit)))
		return e;
	if (e == -ENOSPC)
		cvm_err("workq", "%s item refused: the queue holds %u items already (capacity)",
		        cvm_work_prio_name((enum cvm_work_prio)w->prio), vm->wq->cap);
	else if (e == -ESHUTDOWN)
		cvm_err("workq", "%s item refused: the VM has ended",
		        cvm_work_prio_name((enum cvm_work_prio)w->prio));
	else if (e == -EBUSY)
		cvm_err("workq", "%s item refused: it is already submitted",
		        cvm_work_prio_name((enum cvm_work_prio)w->prio));
	else
		cvm_err("workq", "item refused: bad priority %d, vCPU %d or budget %llu ns",
		        w ? w->prio : -1, w ? w->vcpu : -1,
		        w ? (unsigned long long)w->budget_ns : 0ull);
	return e;
}

int cvm_work_cancel(struct cvm_vm *vm, struct cvm_work *w)
{
	struct cvm_workq *q = vm->wq;
	uint32_t ph;

	pthread_mutex_lock(&q->lock);
	ph = atomic_load(&w->phase);
	if (ph == PH_QUEUED) {
		unlink_item(q, w);
		atomic_store(&w->phase, PH_RUNNING); /* ours now: completed below */
		pthread_mutex_unlock(&q->lock);
		complete(q, w, -ECANCELED);
		return 0;
	}
	if (ph == PH_RUNNING)
		atomic_store(&w->cancel_req, true);
	pthread_mutex_unlock(&q->lock);
	return ph == PH_RUNNING ? -EINPROGRESS : -EALREADY;
}

int cvm_work_status(const struct cvm_work *w)
{
	uint32_t ph = atomic_load_explicit(&w->phase, memory_order_acquire);

	return ph == PH_QUEUED || ph == PH_RUNNING ? -EINPROGRESS : w->status;
}

int cvm_work_wait(struct cvm_work *w, uint64_t timeout_ns)
{
	uint64_t end = now_ns() + timeout_ns;

	for (;;) {
		uint32_t ph = atomic_load_explicit(&w->phase, memory_order_acquire);
		uint64_t now;
		struct timespec ts;
		if (ph != PH_QUEUED && ph != PH_RUNNING)
			return w->status;
		now = now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		ts.tv_sec = (time_t)((end - now) / 1000000000ull);
		ts.tv_nsec = (long)((end - now) % 1000000000ull);
		syscall(SYS_futex, (uint32_t *)&w->phase, FUTEX_WAIT_PRIVATE, ph, &ts, NULL, 0);
	}
}

/* ---- running items ---- */

/* Once the VM's end is requested no new item starts: what is queued completes -ESHUTDOWN. */
static bool vm_ending(const struct cvm_vm *vm)
{
	return atomic_load_explicit(&vm->end_status, memory_order_acquire) >= 0;
}

/*
 * Takes the next item of list `id` for running (phase RUNNING); NULL when the
 * list is empty. Under the lock, so a cancel either finds it queued or running.
 */
static struct cvm_work *take(struct cvm_workq *q, int id)
{
	struct cvm_work *w;

	if (!atomic_load(&list_of(q, id)->n))
		return NULL;
	pthread_mutex_lock(&q->lock);
	w = pop_head(q, id);
	if (w)
		atomic_store(&w->phase, PH_RUNNING);
	pthread_mutex_unlock(&q->lock);
	return w;
}

/* Runs one chunk of `w` on the calling thread; returns the function's answer. */
static enum cvm_work_ret run_chunk(struct cvm_vm *vm, struct cvm_work *w, int vcpu)
{
	struct cvm_work_ctx ctx = {
	        .vm = vm,
	        .vcpu = vcpu,
	        .chunk = w->chunks,
	        .cancel = atomic_load(&w->cancel_req),
	};

	w->ran_on = vcpu;
	w->chunks++;
	return w->fn(w->arg, &ctx);
}

/* After a chunk: complete `w`, or put it back at the tail of `id` (MORE). */
static void after_chunk(struct cvm_workq *q, struct cvm_work *w, enum cvm_work_ret r, int id)
{
	if (r == CVM_WORK_DONE) {
		complete(q, w, 0);
		return;
	}
	if (atomic_load(&w->cancel_req)) {
		complete(q, w, -ECANCELED);
		return;
	}
	pthread_mutex_lock(&q->lock);
	if (q->shut) {
		pthread_mutex_unlock(&q->lock);
		complete(q, w, -ESHUTDOWN);
		return;
	}
	atomic_store(&w->phase, PH_QUEUED);
	push_tail(q, id, w);
	pthread_mutex_unlock(&q->lock);
}

bool cvm_workq_urgent_pending(const struct cvm_vcpu *v)
{
	const struct cvm_workq *q = v->vm ? v->vm->wq : NULL;

	return q && (atomic_load(&v->wq->urgent.n) || atomic_load(&q->urgent_any.n));
}

bool cvm_workq_pending(const struct cvm_vcpu *v)
{
	const struct cvm_workq *q = v->vm ? v->vm->wq : NULL;

	return q && (cvm_workq_urgent_pending(v) || atomic_load(&v->wq->idle.n) ||
	             atomic_load(&q->idle_any.n));
}

/* One urgent item: every chunk at once (the guest waits for it anyway). */
static void run_urgent_item(struct cvm_vcpu *v, struct cvm_work *w, int id)
{
	struct cvm_workq *q = v->vm->wq;
	struct cvm_vcpu_work_stats *s = &v->stats.work;
	uint64_t t0 = now_ns(), t1;
	enum cvm_work_ret r;

	if (!w->chunks) {
		w->kick_to_run_ns = t0 - w->t_submit;
		s->lat_seen++;
		if (s->nlat < CVM_VCPU_LAT_SAMPLES) {
			s->lat_ns[s->nlat++] =
			        (uint32_t)(w->kick_to_run_ns > UINT32_MAX ? UINT32_MAX
			                                                  : w->kick_to_run_ns);
		} else {
			/* Reservoir sampling (xorshift64): every item kept with equal chance. */
			uint64_t x = s->rng ? s->rng : 0x9e3779b97f4a7c15ull ^ v->index;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			s->rng = x;
			if (x % s->lat_seen < CVM_VCPU_LAT_SAMPLES)
				s->lat_ns[x % CVM_VCPU_LAT_SAMPLES] =
				        (uint32_t)(w->kick_to_run_ns > UINT32_MAX
				                           ? UINT32_MAX
				                           : w->kick_to_run_ns);
		}
	}
	do {
		r = run_chunk(v->vm, w, (int)v->index);
		s->urgent_chunks++;
	} while (r == CVM_WORK_MORE && !atomic_load(&w->cancel_req) && !vm_ending(v->vm));
	t1 = now_ns();
	s->urgent_ns += t1 - t0;
	if (r == CVM_WORK_DONE)
		s->urgent_items++;
	after_chunk(q, w, r, id);
}

void cvm_workq_run_urgent(struct cvm_vcpu *v)
{
	struct cvm_workq *q = v->vm->wq;
	struct cvm_work *w;

	if (!q)
		return;
	while (!vm_ending(v->vm)) {
		int id = 2 * (int)v->index;
		w = take(q, id);
		if (!w) {
			id = L_URGENT_ANY;
			w = take(q, id);
		}
		if (!w)
			return;
		if (!w->chunks && w->target >= 0) {
			struct cvm_vcpu *t = &v->vm->vcpu[w->target];
			w->kicks = (uint32_t)(atomic_load(&t->kicks) - w->kicks_base);
			w->entries = (uint32_t)(atomic_load(&t->entries) - w->entries_base);
		}
		run_urgent_item(v, w, id);
	}
}

bool cvm_workq_run_idle(struct cvm_vcpu *v, bool (*stop)(struct cvm_vcpu *v))
{
	struct cvm_workq *q = v->vm->wq;
	struct cvm_vcpu_work_stats *s = &v->stats.work;
	bool ran = false;

	if (!q)
		return false;
	while (!vm_ending(v->vm) && !stop(v)) {
		int id = 2 * (int)v->index + 1;
		struct cvm_work *w = take(q, id);
		uint64_t t0, dt;
		enum cvm_work_ret r;
		if (!w) {
			id = L_IDLE_ANY;
			w = take(q, id);
		}
		if (!w)
			break;
		t0 = now_ns();
		r = run_chunk(v->vm, w, (int)v->index);
		dt = now_ns() - t0;
		s->idle_chunks++;
		s->idle_ns += dt;
		if (dt > w->budget_ns)
			s->idle_overruns++;
		if (r == CVM_WORK_DONE)
			s->idle_items++;
		after_chunk(q, w, r, id);
		ran = true;
	}
	return ran;
}

/* ---- the worker: background items; with KVM's local APICs, sampling KVM's halts ---- */

/* Whether the sampler has something to do: idle work waits, or an eventfd is armed. */
static bool sampling_needed(struct cvm_workq *q)
{
	struct cvm_vm *vm = q->vm;

	if (!q->sample_halts)
		return false;
	if (atomic_load(&q->idle_any.n))
		return true;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		if (atomic_load(&vm->vcpu[i].efd_on) || atomic_load(&q->v[i].idle.n))
			return true;
	return false;
}

/*
 * One look at every vCPU's KVM `blocking` statistic (kernel, split irqchip).
 * Eventfd: a vCPU seen blocking (halted inside KVM_RUN) at one look and not at
 * the next is a candidate; it is signalled at the look after that if it is
 * still not blocking and its thread counted no EINTR (a kick of corevm's)
 * since the first look: a kick's EINTR is counted right after KVM_RUN returns,
 * long before the next look. A vCPU that left KVM_RUN for a moment and halted
 * again (a kick, urgent work, EAGAIN after an INIT) blocks again by then. Idle work:
 * a halted vCPU for which idle work waits is kicked with CVM_WREQ_IDLE_LOOK,
 * so that its thread reads the MP state and runs the work.
 */
static void sample(struct cvm_workq *q)
{
	struct cvm_vm *vm = q->vm;
	unsigned int any = atomic_load(&q->idle_any.n);

	atomic_fetch_add(&q->samples, 1);
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct cvm_vcpu *v = &vm->vcpu[i];
		bool b = cvm_vm_vcpu_guest_idle(vm, i);
		uint64_t e = atomic_load(&v->run_eintr);
		uint8_t last = q->last_blocking[i];
		if (atomic_load_explicit(&v->efd_on, memory_order_acquire) && !q->efd_seen[i]) {
			/* A new eventfd: this look is its baseline, nothing is judged yet. */
			q->efd_seen[i] = true;
			q->last_blocking[i] = b;
			q->last_eintr[i] = e;
			continue;
		}
		if (q->efd_seen[i]) {
			if (last == 2 && !b &&
			    e == q->last_eintr[i]) { /* left the halt by itself */
				/* Its own thread writes the eventfd (the only fd its filter may write). */
				atomic_fetch_or(&v->work_req, CVM_WREQ_SIGNAL);
				cvm_vcpu_kick(v);
				atomic_fetch_add(&q->sample_efd, 1);
			}
			if (last == 1 && !b) {
				q->last_blocking[i] = 2; /* candidate: judged at the next look */
			} else {
				q->last_blocking[i] = b;
				q->last_eintr[i] = e;
			}
			if (last == 1 && !b)
				continue;
		}
		q->last_blocking[i] = b;
		if (b && (any || atomic_load(&q->v[i].idle.n)) &&
		    atomic_load(&v->state) == CVM_VCPU_RUNNING &&
		    !(atomic_fetch_or(&v->work_req, CVM_WREQ_IDLE_LOOK) & CVM_WREQ_IDLE_LOOK)) {
			cvm_vcpu_kick(v);
			atomic_fetch_add(&q->sample_kicks, 1);
			if (any)
				any--;
		}
	}
}

static void *worker_main(void *arg)
{
	struct cvm_workq *q = arg;
	struct cvm_vm *vm = q->vm;
	uint64_t next_sample = 0;
	/* Its filter first (docs/seccomp.md): cvm_workq_start() waits for the outcome. */
	int e = cvm_vm_sandbox_thread(vm, CVM_THREAD_WORKER, NULL);

	pthread_mutex_lock(&q->lock);
	q->worker_state = e < 0 ? -1 : 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (e < 0)
		return NULL;
	cvm_test_hook_sandboxed(CVM_THREAD_WORKER, 0);
	pthread_mutex_lock(&q->lock);
	while (!q->stop_worker) {
		struct cvm_work *w = vm_ending(vm) ? NULL : pop_head(q, L_BACKGROUND);
		bool samp;
		if (w) {
			enum cvm_work_ret r;
			uint64_t t0;
			atomic_store(&w->phase, PH_RUNNING);
			pthread_mutex_unlock(&q->lock);
			t0 = now_ns();
			r = run_chunk(vm, w, -1);
			atomic_fetch_add(&q->bg_ns, now_ns() - t0);
			atomic_fetch_add(&q->bg_chunks, 1);
			after_chunk(q, w, r, L_BACKGROUND);
			pthread_mutex_lock(&q->lock);
		}
		pthread_mutex_unlock(&q->lock);
		samp = sampling_needed(q);
		if (samp && now_ns() >= next_sample) {
			sample(q);
			next_sample = now_ns() + CVM_WORKQ_SAMPLE_NS;
		}
		pthread_mutex_lock(&q->lock);
		if (q->stop_worker || (q->background.head && !vm_ending(vm)))
			continue;
		if (samp) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += (long)CVM_WORKQ_SAMPLE_NS;
			if (ts.tv_nsec >= 1000000000l) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000l;
			}
			pthread_cond_timedwait(&q->cond, &q->lock, &ts);
		} else {
			pthread_cond_wait(&q->cond, &q->lock);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* ---- life cycle ---- */

int cvm_workq_create(struct cvm_vm *vm, unsigned int capacity)
{
	struct cvm_workq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return -ENOMEM;
	q->v = aligned_alloc(64, sizeof(*q->v) * vm->ncpus);
	q->last_blocking = calloc(vm->ncpus, 1);
	q->last_eintr = calloc(vm->ncpus, sizeof(*q->last_eintr));
	q->efd_seen = calloc(vm->ncpus, sizeof(*q->efd_seen));
	if (!q->v || !q->last_blocking || !q->last_eintr || !q->efd_seen) {
		free(q->v);
		free(q->last_blocking);
		free(q->last_eintr);
		free(q->efd_seen);
		free(q);
		return -ENOMEM;
	}
	memset(q->v, 0, sizeof(*q->v) * vm->ncpus);
	q->vm = vm;
	q->cap = capacity ? capacity : CVM_WORKQ_CAPACITY_DEFAULT;
	if (q->cap > CVM_WORKQ_CAPACITY_MAX)
		q->cap = CVM_WORKQ_CAPACITY_MAX;
	q->sample_halts = vm->irqchip && !vm->irqchip->sees_halts;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vm->vcpu[i].wq = &q->v[i];
	vm->wq = q;
	return 0;
}

int cvm_workq_start(struct cvm_vm *vm)
{
	struct cvm_workq *q = vm->wq;
	pthread_attr_t attr;
	int e;

	if (!q || q->worker_started)
		return 0;
	pthread_mutex_lock(&q->lock);
	q->ever_started = true;
	q->worker_state = 0;
	pthread_mutex_unlock(&q->lock);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	e = pthread_create(&q->worker, &attr, worker_main, q);
	pthread_attr_destroy(&attr);
	if (e) {
		cvm_err("workq", "starting the worker thread: %s", strerror(e));
		return -e;
	}
	q->worker_started = true;
	/* No guest code runs before the worker is confined (or has given up). */
	pthread_mutex_lock(&q->lock);
	while (q->worker_state == 0)
		pthread_cond_wait(&q->cond, &q->lock);
	e = q->worker_state < 0 ? -EPERM : 0;
	pthread_mutex_unlock(&q->lock);
	if (e < 0) {
		pthread_join(q->worker, NULL);
		q->worker_started = false;
	}
	return e;
}

/* Completes every item of list `id` with -ESHUTDOWN (the lock is dropped around callbacks). */
static void drain(struct cvm_workq *q, int id)
{
	struct cvm_work *w;

	for (;;) {
		pthread_mutex_lock(&q->lock);
		w = pop_head(q, id);
		if (w)
			atomic_store(&w->phase, PH_RUNNING);
		pthread_mutex_unlock(&q->lock);
		if (!w)
			return;
		complete(q, w, -ESHUTDOWN);
	}
}

void cvm_workq_shutdown(struct cvm_vm *vm)
{
	struct cvm_workq *q = vm->wq;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->shut = true;
	q->stop_worker = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->worker_started) {
		pthread_join(q->worker, NULL);
		q->worker_started = false;
	}
	drain(q, L_URGENT_ANY);
	drain(q, L_IDLE_ANY);
	drain(q, L_BACKGROUND);
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		drain(q, 2 * (int)i);
		drain(q, 2 * (int)i + 1);
	}
}

void cvm_workq_destroy(struct cvm_vm *vm)
{
	struct cvm_workq *q = vm->wq;

	if (!q)
		return;
	cvm_workq_shutdown(vm);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vm->vcpu[i].wq = NULL;
	free(q->v);
	free(q->last_blocking);
	free(q->last_eintr);
	free(q->efd_seen);
	free(q);
	vm->wq = NULL;
}

int cvm_workq_attach_eventfd(struct cvm_vm *vm, struct cvm_vcpu *v, int fd)
{
	struct cvm_workq *q = vm->wq;
	int cur;

	if (q)
		pthread_mutex_lock(&q->lock);
	if (!atomic_load_explicit(&v->efd_on, memory_order_relaxed)) {
		if (vm->seccomp && q && q->ever_started) {
			pthread_mutex_unlock(&q->lock);
			return -EBUSY; /* the vCPU's filter names its eventfd: too late */
		}
		v->efd = fd;
		atomic_store_explicit(&v->efd_on, true, memory_order_release);
	}
	cur = v->efd;
	if (q) {
		pthread_cond_signal(&q->cond); /* the sampler may now have something to watch */
		pthread_mutex_unlock(&q->lock);
	}
	return cur;
}

/* ---- statistics ---- */

uint64_t cvm_workq_samples(const struct cvm_vm *vm)
{
	return vm->wq ? atomic_load(&vm->wq->samples) : 0;
}

static void add_u64(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_uint64(v));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void cvm_workq_stats(struct cvm_vm *vm, struct json_object *vm_obj)
{
	struct cvm_workq *q = vm->wq;
	struct json_object *o, *lat;
	uint64_t idle_items = 0, idle_chunks = 0, overruns = 0, urgent = 0, asleep = 0, idle_ns = 0,
	         urgent_ns = 0, nsamp = 0;
	uint32_t *all;

	if (!q)
		return;
	o = json_object_new_object();
	for (unsigned int p = 0; p < CVM_WORK_NPRIO; p++) {
		struct json_object *e = json_object_new_object();
		add_u64(e, "submitted", atomic_load(&q->submitted[p]));
		add_u64(e, "completed", atomic_load(&q->completed[p]));
		add_u64(e, "cancelled", atomic_load(&q->cancelled[p]));
		add_u64(e, "shutdown", atomic_load(&q->shutdown_cancelled[p]));
		add_u64(e, "refused_full", atomic_load(&q->refused_full[p]));
		json_object_object_add(o, cvm_work_prio_name((enum cvm_work_prio)p), e);
	}
	add_u64(o, "capacity", q->cap);
	add_u64(o, "refused_ended", atomic_load(&q->refused_shut));
	add_u64(o, "refused_bad", atomic_load(&q->refused_bad));
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		const struct cvm_vcpu_work_stats *s = &vm->vcpu[i].stats.work;
		idle_items += s->idle_items;
		idle_chunks += s->idle_chunks;
		overruns += s->idle_overruns;
		urgent += s->urgent_items;
		asleep += s->asleep_ns;
		idle_ns += s->idle_ns;
		urgent_ns += s->urgent_ns;
		nsamp += s->nlat;
	}
	add_u64(o, "idle_items_run", idle_items);
	add_u64(o, "idle_chunks", idle_chunks);
	add_u64(o, "idle_overruns", overruns);
	add_u64(o, "idle_wakes", atomic_load(&q->idle_wakes));
	add_u64(o, "urgent_items_run", urgent);
	add_u64(o, "urgent_kicks", atomic_load(&q->urgent_kicks));
	add_u64(o, "urgent_wakes", atomic_load(&q->urgent_wakes));
	add_u64(o, "urgent_no_kick", atomic_load(&q->urgent_no_kick));
	lat = json_object_new_object();
	all = nsamp ? malloc(nsamp * sizeof(*all)) : NULL;
	if (all) {
		uint64_t k = 0;
		for (unsigned int i = 0; i < vm->ncpus; i++) {
			const struct cvm_vcpu_work_stats *s = &vm->vcpu[i].stats.work;
			memcpy(all + k, s->lat_ns, s->nlat * sizeof(*all));
			k += s->nlat;
		}
		qsort(all, nsamp, sizeof(*all), cmp_u32);
		add_u64(lat, "samples", nsamp);
		add_u64(lat, "p50", all[(nsamp - 1) / 2]);
		add_u64(lat, "p99", all[(nsamp - 1) * 99 / 100]);
		add_u64(lat, "max", all[nsamp - 1]);
		free(all);
	} else {
		add_u64(lat, "samples", 0);
		json_object_object_add(lat, "p50", NULL);
		json_object_object_add(lat, "p99", NULL);
		json_object_object_add(lat, "max", NULL);
	}
	json_object_object_add(o, "urgent_kick_to_run_ns", lat);
	add_u64(o, "vcpu_asleep_ns", asleep);
	if (q->sample_halts) { /* KVM's own halts: its halt_wait_ns, where it counts it */
		uint64_t in_kvm = 0;
		bool found = true;
		for (unsigned int i = 0; i < vm->ncpus; i++) {
			const struct cvm_vcpu_stats *s = &vm->vcpu[i].stats;
			found = found && (s->kvm_found & (1u << CVM_KVM_STAT_HALT_WAIT_NS));
			in_kvm += s->kvm[CVM_KVM_STAT_HALT_WAIT_NS];
		}
		if (found)
			add_u64(o, "vcpu_halted_in_kvm_ns", in_kvm);
		else
			json_object_object_add(o, "vcpu_halted_in_kvm_ns", NULL);
	} else {
		add_u64(o, "vcpu_halted_in_kvm_ns", 0); /* user: KVM never halts a vCPU */
	}
	add_u64(o, "vcpu_idle_work_ns", idle_ns);
	add_u64(o, "vcpu_urgent_work_ns", urgent_ns);
	add_u64(o, "background_chunks", atomic_load(&q->bg_chunks));
	add_u64(o, "background_ns", atomic_load(&q->bg_ns));
	if (q->sample_halts) {
		add_u64(o, "halt_samples", atomic_load(&q->samples));
		add_u64(o, "halt_sample_kicks", atomic_load(&q->sample_kicks));
		add_u64(o, "halt_sample_eventfd", atomic_load(&q->sample_efd));
	}
	json_object_object_add(vm_obj, "work", o);
}

struct json_object *cvm_workq_vcpu_stats(const struct cvm_vcpu *v)
{
	const struct cvm_vcpu_work_stats *s = &v->stats.work;
	struct json_object *o = json_object_new_object();

	add_u64(o, "idle_items", s->idle_items);
	add_u64(o, "idle_chunks", s->idle_chunks);
	add_u64(o, "idle_overruns", s->idle_overruns);
	add_u64(o, "urgent_items", s->urgent_items);
	add_u64(o, "asleep_ns", s->asleep_ns);
	add_u64(o, "idle_work_ns", s->idle_ns);
	add_u64(o, "urgent_work_ns", s->urgent_ns);
	add_u64(o, "kvm_halt_looks", s->kvm_halt_looks);
	add_u64(o, "eventfd_signals", s->efd_signals);
	return o;
}
