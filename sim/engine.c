/* The simulator's event queue: an indexed 4-ary min-heap of 16-byte keys over a slot array of events. */
#include "sim/engine.h"

#include <errno.h>
#include <stdlib.h>

/*
 * Layout: heap entries are {time, seq << SLOT_BITS | slot}, so comparing the
 * second word compares sequence numbers; four children fill one cache line.
 * The payload of slot s is slots[s]; slots 1..ntimers belong to the timers,
 * the others are taken from a free list by one-shot events. pos[s] is the
 * heap index + 1 of slot s's entry, NOW_MARK when it waits in the "now" FIFO,
 * 0 when it has none.
 *
 * Events due now (a zero delay, common in a simulator) skip the heap: they go
 * to a FIFO whose entries all have time == now and increasing sequence numbers.
 * pop() takes the FIFO's head unless the heap's top is due now with a smaller
 * sequence number, which keeps the (time, sequence) order exact. A timer re-armed
 * or cancelled while in the FIFO leaves a stale entry there, recognised because
 * its key is no longer cur[slot].
 */
#define NOW_MARK  0x80000000u
#define SLOT_BITS 24u
#define SLOT_MASK ((UINT64_C(1) << SLOT_BITS) - 1)

/* One 128-bit number, time in the high half: one comparison orders (time, sequence). */
struct cvm_sim_heap_ent {
	__extension__ unsigned __int128 v;
};

#define ENT_TIME(x) ((uint64_t)((x).v >> 64))
#define ENT_KEY(x)  ((uint64_t)(x).v)

static inline struct cvm_sim_heap_ent ent_make(uint64_t time, uint64_t key)
{
	struct cvm_sim_heap_ent x;
	x.v = (__extension__(unsigned __int128) time << 64) | key;
	return x;
}

static inline bool before(const struct cvm_sim_heap_ent *a, const struct cvm_sim_heap_ent *b)
{
	return a->v < b->v;
}

/* Puts ent at heap index i; only timers need to know where they are. */
static inline void place(struct cvm_sim_engine *e, size_t i, struct cvm_sim_heap_ent ent)
{
	e->heap[i] = ent;
	uint32_t slot = (uint32_t)(ENT_KEY(ent) & SLOT_MASK);
	if (slot <= e->ntimers)
		e->pos[slot] = (uint32_t)i + 1;
}

static void sift_up(struct cvm_sim_engine *e, size_t i, struct cvm_sim_heap_ent ent)
{
	while (i) {
		size_t parent = (i - 1) / 4;
		if (!before(&ent, &e->heap[parent]))
			break;
		place(e, i, e->heap[parent]);
		i = parent;
	}
	place(e, i, ent);
}

static void sift_down(struct cvm_sim_engine *e, size_t i, struct cvm_sim_heap_ent ent)
{
	size_t n = e->n;
	for (;;) {
		size_t c = 4 * i + 1;
		if (c >= n)
			break;
		size_t best = c;
		size_t end = c + 4 < n ? c + 4 : n;
		for (size_t k = c + 1; k < end; k++)
			if (before(&e->heap[k], &e->heap[best]))
				best = k;
		if (!before(&e->heap[best], &ent))
			break;
		place(e, i, e->heap[best]);
		i = best;
	}
	place(e, i, ent);
}

/* Grows the slot array (and the heap, which never holds more entries than slots). */
static int grow(struct cvm_sim_engine *e, size_t want)
{
	if (want <= e->nslots)
		return 0;
	size_t n = e->nslots ? e->nslots * 2 : 256;
	while (n < want)
		n *= 2;
	if (n > SLOT_MASK + 1)
		return -ENOMEM;
	struct cvm_sim_event *s = realloc(e->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	e->slots = s;
	uint32_t *p = realloc(e->pos, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->pos = p;
	struct cvm_sim_heap_ent *h = realloc(e->heap, n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	e->heap = h;
	uint32_t *f = realloc(e->free, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	e->free = f;
	uint64_t *c = realloc(e->cur, n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	e->cur = c;
	for (size_t i = e->nslots; i < n; i++) {
		size_t slot = n - 1 - (i - e->nslots); /* lowest slots are taken first */
		e->pos[i] = 0;
		e->cur[i] = 0;
		if (slot > e->ntimers)
			e->free[e->nfree++] = (uint32_t)slot;
	}

	e->nslots = n;
	return 0;
}

int __cvm_sim_engine_init(struct cvm_sim_engine *e, size_t cap_hint, uint32_t ntimers)
{
	*e = (struct cvm_sim_engine){0};
	e->ntimers = ntimers;
	if (grow(e, (size_t)ntimers + 1 + (cap_hint < 64 ? 64 : cap_hint))) {
		cvm_sim_engine_fini(e);
		return -ENOMEM;
	}
	return 0;
}

void cvm_sim_engine_fini(struct cvm_sim_engine *e)
{
	free(e->heap);
	free(e->slots);
	free(e->pos);
	free(e->free);
	free(e->cur);
	free(e->fifo);
	*e = (struct cvm_sim_engine){0};
}

static void remove_at(struct cvm_sim_engine *e, size_t i);

static int fifo_push(struct cvm_sim_engine *e, uint64_t key)
{
	if (e->fifo_n == e->fifo_cap) {
		size_t cap = e->fifo_cap ? e->fifo_cap * 2 : 256;
		uint64_t *f = malloc(cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		for (size_t i = 0; i < e->fifo_n; i++)
			f[i] = e->fifo[(e->fifo_head + i) % e->fifo_cap];
		free(e->fifo);
		e->fifo = f;
		e->fifo_cap = cap;
		e->fifo_head = 0;
	}
	e->fifo[(e->fifo_head + e->fifo_n++) % e->fifo_cap] = key;
	return 0;
}

/* Queues slot `slot` (payload filled) at `time` with a new sequence number, or moves it there. */
static int schedule(struct cvm_sim_engine *e, uint32_t slot, uint64_t time)
{
	uint64_t key = e->seq++ << SLOT_BITS | slot;
	uint32_t pos = e->pos[slot];
	e->cur[slot] = key;
	if (time <= e->now) {
		if (pos && pos != NOW_MARK)
			remove_at(e, pos - 1);
		if (fifo_push(e, key))
			return -ENOMEM;
		e->pos[slot] = NOW_MARK;
		return 0;
	}
	struct cvm_sim_heap_ent ent = ent_make(time, key);
	if (slot > e->ntimers)
		e->pos[slot] = 1; /* "queued in the heap": one-shots are never moved by key */
	if (!pos || pos == NOW_MARK) {
		sift_up(e, e->n++, ent);
		return 0;
	}
	size_t i = pos - 1;
	if (i && before(&ent, &e->heap[(i - 1) / 4]))
		sift_up(e, i, ent);
	else
		sift_down(e, i, ent);
	return 0;
}

int __cvm_sim_engine_at(struct cvm_sim_engine *e, uint64_t time, uint32_t kind, uint32_t obj,
                        uint32_t gen, uint32_t arg)
{
	if (!e->nfree && grow(e, e->nslots + 1))
		return -ENOMEM;
	uint32_t slot = e->free[--e->nfree];
	e->slots[slot] = (struct cvm_sim_event){
	        .kind = kind, .obj = obj, .gen = gen, .arg = arg, .timer = 0};
	int r = schedule(e, slot, time);
	if (r)
		e->free[e->nfree++] = slot;
	return r;
}

int __cvm_sim_engine_arm(struct cvm_sim_engine *e, uint32_t timer, uint64_t time, uint32_t kind,
                         uint32_t obj, uint32_t gen, uint32_t arg)
{
	if (!timer || timer > e->ntimers)
		return -EINVAL;
	e->slots[timer] = (struct cvm_sim_event){
	        .kind = kind, .obj = obj, .gen = gen, .arg = arg, .timer = timer};
	return schedule(e, timer, time);
}

/* Removes heap entry i. */
static void remove_at(struct cvm_sim_engine *e, size_t i)
{
	e->pos[ENT_KEY(e->heap[i]) & SLOT_MASK] = 0;
	struct cvm_sim_heap_ent last = e->heap[--e->n];
	if (i == e->n)
		return;
	if (i && before(&last, &e->heap[(i - 1) / 4]))
		sift_up(e, i, last);
	else
		sift_down(e, i, last);
}

void cvm_sim_engine_cancel(struct cvm_sim_engine *e, uint32_t timer)
{
	if (!timer || timer > e->ntimers || !e->pos[timer])
		return;
	if (e->pos[timer] == NOW_MARK) {
		e->cur[timer] = 0; /* its FIFO entry is now stale */
		e->pos[timer] = 0;
	} else {
		remove_at(e, e->pos[timer] - 1);
	}
}

bool cvm_sim_engine_pop(struct cvm_sim_engine *e, struct cvm_sim_event *ev)
{
	for (;;) {
		uint64_t key;
		uint64_t time;
		if (e->fifo_n && (!e->n || ENT_TIME(e->heap[0]) > e->now ||
		                  ENT_KEY(e->heap[0]) > e->fifo[e->fifo_head])) {
			key = e->fifo[e->fifo_head];
			e->fifo_head = (e->fifo_head + 1) % e->fifo_cap;
			e->fifo_n--;
			uint32_t slot = (uint32_t)(key & SLOT_MASK);
			if (e->cur[slot] != key)
				continue; /* re-armed or cancelled meanwhile */
			e->pos[slot] = 0;
			time = e->now;
		} else if (e->n) {
			key = ENT_KEY(e->heap[0]);
			time = ENT_TIME(e->heap[0]);
			remove_at(e, 0);
		} else {
			return false;
		}
		uint32_t slot = (uint32_t)(key & SLOT_MASK);
		*ev = e->slots[slot];
		ev->time = time;
		ev->seq = key >> SLOT_BITS;
		e->now = time;
		e->popped++;
		e->cur[slot] = 0;
		if (slot > e->ntimers)
			e->free[e->nfree++] = slot;
		return true;
	}
}
