/* The simulator's event engine: one nanosecond clock and a queue of events ordered by (time, sequence). */
#ifndef COREVM_SIM_ENGINE_H
#define COREVM_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An event is plain data: when it fires, what kind it is, which object it is for,
 * a generation number its owner may use to recognise stale events, and an
 * argument. Events with equal times fire in the order they were scheduled: each
 * gets the next value of a run-wide sequence counter, so a run is a pure function
 * of the scenario and the seed.
 *
 * Two ways to queue: one-shot events (__cvm_sim_engine_at), and timers: a timer
 * (numbered 1..n) has at most one pending event, and arming it again replaces
 * that event in place (the queue is an indexed heap), so timers that are re-armed
 * all the time do not fill the queue with stale events.
 */
struct cvm_sim_event {
	uint64_t time; /* filled by cvm_sim_engine_pop() */
	uint64_t seq;  /* filled by cvm_sim_engine_pop() */
	uint32_t kind;
	uint32_t obj;
	uint32_t gen;
	uint32_t arg;
	uint32_t timer; /* 0: one-shot */
	uint32_t pad;
};

struct cvm_sim_heap_ent;

/* The queue is an indexed 4-ary min-heap (compact, cache-friendly, O(log n)); see engine.c. */
struct cvm_sim_engine {
	uint64_t now;
	uint64_t seq;
	uint64_t popped;
	struct cvm_sim_heap_ent *heap;
	size_t n;                    /* events queued */
	struct cvm_sim_event *slots; /* event payloads; 1..ntimers are the timers' */
	uint32_t *pos;               /* slot -> heap index + 1, 0 when not queued */
	uint32_t *free;              /* free one-shot slots */
	uint64_t *cur;               /* slot -> key of its live entry */
	uint64_t *fifo;              /* keys of events due now, in order */
	size_t nslots, nfree, fifo_head, fifo_n, fifo_cap;
	uint32_t ntimers;
};

/* Prepares an empty engine at time 0 with room for `cap_hint` events and `ntimers` timers. */
int __cvm_sim_engine_init(struct cvm_sim_engine *e, size_t cap_hint, uint32_t ntimers);

/* Frees the queue; the engine may be initialised again. */
void cvm_sim_engine_fini(struct cvm_sim_engine *e);

/*
 * Queues a one-shot event at absolute time `time` (clamped up to now: the past
 * cannot be scheduled). Returns 0 or -ENOMEM (the queue is unchanged then).
 */
int __cvm_sim_engine_at(struct cvm_sim_engine *e, uint64_t time, uint32_t kind, uint32_t obj,
                        uint32_t gen, uint32_t arg);

/*
 * Arms timer `timer` (1..ntimers) to fire at `time` (clamped up to now),
 * replacing its pending event if it has one; the event takes a new sequence
 * number. Returns 0 or -ENOMEM.
 */
int __cvm_sim_engine_arm(struct cvm_sim_engine *e, uint32_t timer, uint64_t time, uint32_t kind,
                         uint32_t obj, uint32_t gen, uint32_t arg);

/* Removes timer `timer`'s pending event, if any. */
void cvm_sim_engine_cancel(struct cvm_sim_engine *e, uint32_t timer);

/* Removes the earliest event into `*ev` and advances the clock to it; false when the queue is empty. */
bool cvm_sim_engine_pop(struct cvm_sim_engine *e, struct cvm_sim_event *ev);

#endif
