/* The simulator's event engine: one nanosecond clock and a queue of events ordered by (time, sequence). */
#ifndef COREVM_SIM_ENGINE_H
#define COREVM_SIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An event is plain data: when it fires, what kind it is, which object it is for,
 * and a generation number the owner uses to cancel it lazily (the owner bumps its
 * generation; a popped event whose generation no longer matches is ignored by the
 * owner). Events with equal times fire in the order they were scheduled: each gets
 * the next value of a run-wide sequence counter, so a run is a pure function of
 * the scenario and the seed.
 */
struct cvm_sim_event {
	uint64_t time;
	uint64_t seq;
	uint32_t kind;
	uint32_t obj;
	uint32_t gen;
	uint32_t arg;
};

/* The queue is a 4-ary min-heap of events (compact, cache-friendly, O(log n)). */
struct cvm_sim_engine {
	uint64_t now;
	uint64_t seq;
	uint64_t popped;
	struct cvm_sim_event *heap;
	size_t n;
	size_t cap;
};

/* Prepares an empty engine at time 0 with room for `cap_hint` events. Returns 0 or -ENOMEM. */
int __cvm_sim_engine_init(struct cvm_sim_engine *e, size_t cap_hint);

/* Frees the queue; the engine may be initialised again. */
void cvm_sim_engine_fini(struct cvm_sim_engine *e);

/*
 * Queues an event at absolute time `time` (clamped up to now: the past cannot be
 * scheduled). Returns 0 or -ENOMEM (the queue is unchanged then).
 */
int __cvm_sim_engine_at(struct cvm_sim_engine *e, uint64_t time, uint32_t kind, uint32_t obj,
                        uint32_t gen, uint32_t arg);

/* Removes the earliest event into `*ev` and advances the clock to it; false when the queue is empty. */
bool cvm_sim_engine_pop(struct cvm_sim_engine *e, struct cvm_sim_event *ev);

/* The time of the earliest queued event, or UINT64_MAX when there is none. */
static inline uint64_t cvm_sim_engine_next_time(const struct cvm_sim_engine *e)
{
	return e->n ? e->heap[0].time : UINT64_MAX;
}

#endif
