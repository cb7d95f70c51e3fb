/*
 * The per-VM work queue: VMM work that runs on the thread of a vCPU that has
 * just gone idle (idle), on a kicked vCPU's thread before it re-enters the
 * guest (urgent), or on corevm's worker thread (background). docs/idle-work.md
 * has the design, the kick protocol and what differs with KVM's local APICs.
 *
 * An item is a struct cvm_work owned by the caller (the queue never allocates
 * or frees one). Life of one submission:
 *
 *   cvm_work_init() -> (set vcpu, budget_ns, done) -> cvm_work_submit()
 *     refused:  returns -errno at once; nothing else happens (done is not called)
 *     accepted: returns 0; later, exactly once, the item completes with a
 *               status: 0 (its function returned CVM_WORK_DONE), -ECANCELED
 *               (cvm_work_cancel()), or -ESHUTDOWN (the VM ended first);
 *               then `done` (if set) is called and cvm_work_wait() returns.
 *   After completion the item may be submitted again, or freed.
 *
 * Nothing is dropped: at the VM's end every item still queued completes with
 * -ESHUTDOWN (after the vCPU threads and the worker have stopped, on the thread
 * that called cvm_vm_run()), and later submissions are refused with -ESHUTDOWN.
 *
 * Threads: cvm_work_submit(), cvm_work_cancel(), cvm_work_wait() and
 * cvm_work_status() may be called from any thread, including from an item's
 * function or done callback (but an item must not wait for itself). Items run
 * on vCPU threads and the worker with their seccomp class's system calls only
 * (docs/seccomp.md): mostly memory, futexes and the fds corevm already writes.
 */
#ifndef COREVM_VMM_WORKQ_H
#define COREVM_VMM_WORKQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct cvm_vm;

enum cvm_work_prio {
	/*
	 * On the thread of a vCPU that is idle (halted, waiting for SIPI, in reset
	 * hold, paused), before that thread sleeps; run in chunks: between two
	 * chunks the thread looks for a wake-up of its vCPU (an interrupt it can
	 * take, a request, urgent work) and stops running idle work if there is
	 * one. So the guest waits at most one chunk for corevm. With corevm's
	 * irqchip (user) the vCPU that halts runs it at once; with KVM's (kernel,
	 * split) corevm finds halted vCPUs by sampling and kicks them.
	 */
	CVM_WORK_IDLE = 0,
	/*
	 * On the thread of a vCPU corevm picks (asleep first, then idle in the
	 * guest, then one in corevm, then any; or the one the item names), which
	 * is kicked and runs the item before it next enters the guest. Runs to
	 * completion (all chunks at once): the guest waits for it.
	 */
	CVM_WORK_URGENT,
	/* On corevm's worker thread, in submission order; never on a vCPU thread. */
	CVM_WORK_BACKGROUND,
};
#define CVM_WORK_NPRIO 3

/* "idle", "urgent", "background". */
const char *cvm_work_prio_name(enum cvm_work_prio p);

/* What one call of an item's function returns. */
enum cvm_work_ret {
	CVM_WORK_DONE = 0, /* finished: the item completes with status 0 */
	CVM_WORK_MORE, /* one chunk done: call again (idle: not before the next chunk boundary) */
};

/* What an item's function is told about this call. */
struct cvm_work_ctx {
	struct cvm_vm *vm;
	int vcpu;           /* the vCPU whose thread runs this chunk; -1 on the worker thread */
	unsigned int chunk; /* 0 on the first call of this submission */
	bool cancel; /* cvm_work_cancel() was called: returning MORE completes it -ECANCELED */
};

/*
 * Runs one chunk. An idle item's chunk must return within its budget; urgent
 * and background items may take longer (the guest or the worker waits).
 */
typedef enum cvm_work_ret (*cvm_work_fn)(void *arg, const struct cvm_work_ctx *ctx);

/*
 * Called once when a submission completes, with the status (0, -ECANCELED,
 * -ESHUTDOWN), on the thread that completed it. The item is no longer the
 * queue's: the callback may free or resubmit it, unless someone else waits on
 * it with cvm_work_wait().
 */
typedef void (*cvm_work_done_fn)(void *arg, int status);

/* One piece of work. Fields marked "set" may be changed only while it is not submitted. */
struct cvm_work {
	cvm_work_fn fn;        /* set by cvm_work_init() */
	void *arg;             /* set by cvm_work_init() */
	cvm_work_done_fn done; /* set: optional completion callback */
	uint8_t prio;          /* set by cvm_work_init(): enum cvm_work_prio */
	int vcpu;              /* set: idle and urgent: run only on this vCPU; -1 (default): any */
	uint64_t budget_ns; /* set: idle: the longest one chunk runs (default 100 us, max 10 ms) */

	/* Results, valid once complete. */
	int ran_on;          /* vCPU that ran the last chunk, -1 worker or never run */
	unsigned int chunks; /* chunks run */
	uint32_t kicks;      /* urgent: kicks its vCPU received from submission to its run */
	uint32_t entries;    /* urgent: guest entries (KVM_RUN) of the vCPU chosen for it after it
	                     was queued and before its first chunk: at most 1 (it ran within one
	                     kick) unless a wake-up was lost */
	uint64_t kick_to_run_ns; /* urgent: from submission (incl. the kick) to the first chunk */

	/* The queue's: do not touch. */
	struct cvm_work *next, *prev;
	_Atomic uint32_t phase; /* futex word: IDLE, QUEUED, RUNNING, COMPLETE */
	int status;
	atomic_bool cancel_req;
	int16_t list;          /* which list holds it while queued */
	int32_t target;        /* urgent: the vCPU kicked for it (-1 none) */
	uint64_t kicks_base;   /* urgent: the target's kick count at submission */
	uint64_t entries_base; /* urgent: the target's guest entries once it was queued */
	uint64_t t_submit;
};

#define CVM_WORK_BUDGET_DEFAULT_NS 100000ull   /* 100 us */
#define CVM_WORK_BUDGET_MAX_NS     10000000ull /* 10 ms */
#define CVM_WORKQ_CAPACITY_DEFAULT 1024u       /* items per priority */
#define CVM_WORKQ_CAPACITY_MAX     (1u << 20)
#define CVM_WORKQ_SAMPLE_NS        1000000ull /* kernel, split: how often halts are sampled */

/* Prepares `w` (prio, fn, arg; vcpu -1, default budget, no done callback). */
void cvm_work_init(struct cvm_work *w, enum cvm_work_prio prio, cvm_work_fn fn, void *arg);

/*
 * Submits `w` to `vm`'s queue of its priority. Returns 0 (accepted: it will
 * complete exactly once), or refuses it: -EINVAL (no function, a bad priority,
 * vCPU index or budget), -EBUSY (already submitted and not complete), -ENOSPC
 * (that priority's queue holds its capacity already), -ESHUTDOWN (the VM has
 * ended). __cvm_work_submit() is silent; cvm_work_submit() reports the first
 * refusal of each kind with one line (all are counted in --stats).
 */
int __cvm_work_submit(struct cvm_vm *vm, struct cvm_work *w);
int cvm_work_submit(struct cvm_vm *vm, struct cvm_work *w);

/*
 * Cancels `w`. Queued (not running): removed and completed with -ECANCELED
 * before this returns: 0. Running now: the request is noted (ctx->cancel on
 * later calls); if its chunk returns MORE it completes with -ECANCELED, if
 * DONE with 0: -EINPROGRESS. Complete or never submitted: -EALREADY.
 */
int cvm_work_cancel(struct cvm_vm *vm, struct cvm_work *w);

/*
 * Waits until `w` is complete or `timeout_ns` passed (0: do not wait). Returns
 * its status (0, -ECANCELED, -ESHUTDOWN) or -ETIMEDOUT.
 */
int cvm_work_wait(struct cvm_work *w, uint64_t timeout_ns);

/* The status of a complete item, or -EINPROGRESS while it is queued or running. */
int cvm_work_status(const struct cvm_work *w);

/* ---- inside the backend (vcpu.c, run.c, vm.c, stats.c) ---- */

struct cvm_vcpu;
struct json_object;

/* Creates vm->wq for vm->ncpus vCPUs (each vCPU's vcpu->wq too). 0 or -ENOMEM. */
int cvm_workq_create(struct cvm_vm *vm, unsigned int capacity);
/*
 * Starts the worker thread (cvm_vm_run(), before the vCPU threads and before
 * the calling thread's own filter), which installs its seccomp filter first:
 * returns once it has. 0, or -errno (reported; -EPERM: its filter failed).
 */
int cvm_workq_start(struct cvm_vm *vm);
/*
 * After every vCPU thread is joined: stops the worker (after its current chunk)
 * and completes every item still queued with -ESHUTDOWN. Later submissions are
 * refused. Idempotent.
 */
void cvm_workq_shutdown(struct cvm_vm *vm);
void cvm_workq_destroy(struct cvm_vm *vm);

/* Whether urgent work waits for vCPU `v` (its own, or any vCPU's). Any thread. */
bool cvm_workq_urgent_pending(const struct cvm_vcpu *v);
/* Whether vCPU `v` asleep should not sleep: urgent work or idle work for it. Any thread. */
bool cvm_workq_pending(const struct cvm_vcpu *v);
/* On v's thread: runs every urgent item waiting for it. */
void cvm_workq_run_urgent(struct cvm_vcpu *v);
/*
 * On v's thread, v asleep: runs idle chunks until none is left for v or
 * `stop(v)` says v has something better to do (checked before each chunk).
 * Returns whether any chunk ran.
 */
bool cvm_workq_run_idle(struct cvm_vcpu *v, bool (*stop)(struct cvm_vcpu *v));

/*
 * cvm_vm_vcpu_eventfd(): makes `fd` vCPU v's eventfd unless it has one already,
 * and lets the sampler (kernel, split) start watching it. Returns the eventfd
 * in force (`fd`, or the one attached first), or -EBUSY when the VM runs with
 * seccomp and has been started (its vCPU filters name the eventfds). Any thread.
 */
int cvm_workq_attach_eventfd(struct cvm_vm *vm, struct cvm_vcpu *v, int fd);

/* How many looks the sampler took (kernel, split): lets tests wait for one. */
uint64_t cvm_workq_samples(const struct cvm_vm *vm);

/* Adds the VM-wide "work" object to the statistics' "vm" object. */
void cvm_workq_stats(struct cvm_vm *vm, struct json_object *vm_obj);
/* The per-vCPU "work" object. */
struct json_object *cvm_workq_vcpu_stats(const struct cvm_vcpu *v);

#endif
