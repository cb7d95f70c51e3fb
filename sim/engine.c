/* The simulator's event queue: a 4-ary min-heap keyed by (time, sequence). */
#include "sim/engine.h"

#include <errno.h>
#include <stdlib.h>

static inline bool before(const struct cvm_sim_event *a, const struct cvm_sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

int __cvm_sim_engine_init(struct cvm_sim_engine *e, size_t cap_hint)
{
	*e = (struct cvm_sim_engine){0};
	e->cap = cap_hint < 64 ? 64 : cap_hint;
	e->heap = malloc(e->cap * sizeof(*e->heap));
	if (!e->heap) {
		e->cap = 0;
		return -ENOMEM;
	}
	return 0;
}

void cvm_sim_engine_fini(struct cvm_sim_engine *e)
{
	free(e->heap);
	*e = (struct cvm_sim_engine){0};
}

int __cvm_sim_engine_at(struct cvm_sim_engine *e, uint64_t time, uint32_t kind, uint32_t obj,
                        uint32_t gen, uint32_t arg)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct cvm_sim_event *h = realloc(e->heap, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		e->heap = h;
		e->cap = cap;
	}
	struct cvm_sim_event ev = {
	        .time = time < e->now ? e->now : time,
	        .seq = e->seq++,
	        .kind = kind,
	        .obj = obj,
	        .gen = gen,
	        .arg = arg,
	};
	size_t i = e->n++;
	while (i) {
		size_t parent = (i - 1) / 4;
		if (!before(&ev, &e->heap[parent]))
			break;
		e->heap[i] = e->heap[parent];
		i = parent;
	}
	e->heap[i] = ev;
	return 0;
}

bool cvm_sim_engine_pop(struct cvm_sim_engine *e, struct cvm_sim_event *ev)
{
	if (!e->n)
		return false;
	*ev = e->heap[0];
	e->now = ev->time;
	e->popped++;
	struct cvm_sim_event last = e->heap[--e->n];
	size_t n = e->n, i = 0;
	for (;;) {
		size_t c = 4 * i + 1;
		if (c >= n)
			break;
		size_t best = c;
		size_t end = c + 4 < n ? c + 4 : n;
		for (size_t k = c + 1; k < end; k++)
			if (before(&e->heap[k], &e->heap[best]))
				best = k;
		if (!before(&e->heap[best], &last))
			break;
		e->heap[i] = e->heap[best];
		i = best;
	}
	if (n)
		e->heap[i] = last;
	return true;
}
