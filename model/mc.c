/* The model checker's engine: BFS over hashed states, counterexample traces, backward liveness check. */
#include "model/mc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct mc_emitter {
	const struct mc_model *m;
	const struct mc_limits *lim;
	struct mc_result *r;
	unsigned char *arena; /* states, in BFS order */
	uint32_t *parent;
	mc_label *label;
	uint16_t *depth;
	uint64_t n, cap;
	uint64_t *table; /* (hash32 << 32) | (index + 1); 0 = empty */
	uint64_t tmask;
	uint32_t *edges; /* liveness: (src, dst, label) triples */
	uint64_t nedges, edges_cap;
	uint32_t cur; /* state being expanded */
	bool stop, oom, full;
	mc_label bad_label;
	unsigned char *bad_state; /* safety violation: its post-state */
};

static uint64_t hash_bytes(const unsigned char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0x94d049bb133111ebull;
	h ^= h >> 32;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static unsigned char *state_at(struct mc_emitter *em, uint64_t i)
{
	return em->arena + i * em->m->state_size;
}

static bool grow(void **p, uint64_t n, size_t each)
{
	void *q = realloc(*p, n * each);
	if (!q)
		return false;
	*p = q;
	return true;
}

static bool grow_states(struct mc_emitter *em)
{
	uint64_t cap = em->cap ? em->cap * 2 : 4096;
	if (!grow((void **)&em->arena, cap, em->m->state_size) ||
	    !grow((void **)&em->parent, cap, sizeof(uint32_t)) ||
	    !grow((void **)&em->label, cap, sizeof(mc_label)) ||
	    !grow((void **)&em->depth, cap, sizeof(uint16_t)))
		return false;
	em->cap = cap;
	return true;
}

static bool rehash(struct mc_emitter *em)
{
	uint64_t size = em->tmask ? (em->tmask + 1) * 2 : 8192;
	uint64_t *t = calloc(size, sizeof(*t));

	if (!t)
		return false;
	for (uint64_t i = 0; em->table && i <= em->tmask; i++) {
		uint64_t e = em->table[i], j;
		if (!e)
			continue;
		for (j = (e >> 32) & (size - 1); t[j]; j = (j + 1) & (size - 1))
			;
		t[j] = e;
	}
	free(em->table);
	em->table = t;
	em->tmask = size - 1;
	return true;
}

/* Index of `s`, adding it if new; UINT32_MAX when it cannot be stored. */
static uint32_t intern(struct mc_emitter *em, const unsigned char *s, bool *fresh)
{
	size_t size = em->m->state_size;
	uint64_t h = hash_bytes(s, size), j;
	uint32_t h32 = (uint32_t)h;

	*fresh = false;
	for (j = h32 & em->tmask; em->table[j]; j = (j + 1) & em->tmask) {
		uint64_t e = em->table[j];
		if ((uint32_t)(e >> 32) == h32 &&
		    !memcmp(state_at(em, (e & 0xffffffffu) - 1), s, size))
			return (uint32_t)((e & 0xffffffffu) - 1);
	}
	if ((em->lim->max_states && em->n >= em->lim->max_states) || em->n >= UINT32_MAX - 1) {
		em->full = true;
		return UINT32_MAX;
	}
	if (em->n == em->cap && !grow_states(em)) {
		em->oom = true;
		return UINT32_MAX;
	}
	memcpy(state_at(em, em->n), s, size);
	em->table[j] = ((uint64_t)h32 << 32) | (em->n + 1);
	*fresh = true;
	em->n++;
	if (em->n * 2 > em->tmask && !rehash(em))
		em->oom = true;
	return (uint32_t)(em->n - 1);
}

static void add_edge(struct mc_emitter *em, uint32_t src, uint32_t dst, mc_label label)
{
	if (em->nedges == em->edges_cap) {
		uint64_t cap = em->edges_cap ? em->edges_cap * 2 : 65536;
		if (!grow((void **)&em->edges, cap, 3 * sizeof(uint32_t))) {
			em->oom = true;
			return;
		}
		em->edges_cap = cap;
	}
	em->edges[3 * em->nedges] = src;
	em->edges[3 * em->nedges + 1] = dst;
	em->edges[3 * em->nedges + 2] = label;
	em->nedges++;
}

void mc_emit(struct mc_emitter *em, mc_label label, const void *next)
{
	bool fresh;
	uint32_t i;

	if (em->stop)
		return;
	em->r->transitions++;
	i = intern(em, next, &fresh);
	if (i == UINT32_MAX)
		return;
	if (em->m->goal)
		add_edge(em, em->cur, i, label);
	if (!fresh)
		return;
	em->parent[i] = em->cur;
	em->label[i] = label;
	em->depth[i] = (uint16_t)(em->depth[em->cur] + 1);
	if (em->m->check_state &&
	    !em->m->check_state(em->m->ctx, next, em->r->message, sizeof(em->r->message))) {
		em->r->verdict = MC_SAFETY;
		em->bad_label = label;
		em->stop = true;
		em->cur = i; /* the trace ends at the new state itself */
		em->bad_state = NULL;
	}
}

void mc_violation(struct mc_emitter *em, mc_label label, const void *next, const char *fmt, ...)
{
	va_list ap;

	if (em->stop)
		return;
	va_start(ap, fmt);
	vsnprintf(em->r->message, sizeof(em->r->message), fmt, ap);
	va_end(ap);
	em->r->verdict = MC_SAFETY;
	em->bad_label = label;
	em->bad_state = malloc(em->m->state_size);
	if (em->bad_state)
		memcpy(em->bad_state, next, em->m->state_size);
	em->stop = true;
}

/* Copies the path from the initial state to state `last` (plus an optional extra step) into r. */
static void build_trace(struct mc_emitter *em, uint32_t last, const unsigned char *extra,
                        mc_label extra_label)
{
	struct mc_result *r = em->r;
	size_t size = em->m->state_size;
	unsigned int len = 1, k;

	for (uint32_t i = last; i != 0; i = em->parent[i])
		len++;
	r->trace_len = len + (extra ? 1 : 0);
	r->labels = calloc(r->trace_len, sizeof(mc_label));
	r->states_ = malloc(r->trace_len * size);
	if (!r->labels || !r->states_) {
		r->trace_len = 0;
		return;
	}
	k = len - 1;
	for (uint32_t i = last;; i = em->parent[i], k--) {
		memcpy(r->states_ + k * size, state_at(em, i), size);
		r->labels[k] = i ? em->label[i] : 0;
		if (i == 0)
			break;
	}
	if (extra) {
		memcpy(r->states_ + len * size, extra, size);
		r->labels[len] = extra_label;
	}
}

/*
 * Adjacency in CSR form: adj[start[v]..start[v+1]) are the indexes of the
 * edges leaving v (by_dst: the edges entering v).
 */
static bool csr(const struct mc_emitter *em, bool by_dst, uint32_t **start_out, uint32_t **adj_out)
{
	uint64_t n = em->n;
	uint32_t *start = calloc(n + 1, sizeof(uint32_t));
	uint32_t *adj = malloc((em->nedges ? em->nedges : 1) * sizeof(uint32_t));
	unsigned int key = by_dst ? 1 : 0;

	if (!start || !adj) {
		free(start);
		free(adj);
		return false;
	}
	for (uint64_t e = 0; e < em->nedges; e++)
		start[em->edges[3 * e + key] + 1]++;
	for (uint64_t i = 0; i < n; i++)
		start[i + 1] += start[i];
	for (uint64_t e = 0; e < em->nedges; e++)
		adj[start[em->edges[3 * e + key]]++] = (uint32_t)e;
	for (uint64_t i = n; i > 0; i--)
		start[i] = start[i - 1];
	start[0] = 0;
	*start_out = start;
	*adj_out = adj;
	return true;
}

/* Marks in ok[] the states that can reach a goal state; returns how many cannot (first in *first). */
static uint64_t liveness(struct mc_emitter *em, unsigned char *ok, uint32_t *first)
{
	uint64_t n = em->n, stuck = 0;
	uint32_t *start = NULL, *in = NULL;
	uint32_t *queue = malloc(n * sizeof(uint32_t));
	uint64_t head = 0, tail = 0;

	*first = UINT32_MAX;
	if (!queue || !csr(em, true, &start, &in)) {
		em->oom = true;
		goto out;
	}

	for (uint64_t i = 0; i < n; i++)
		if (em->m->goal(em->m->ctx, state_at(em, i))) {
			ok[i] = 1;
			queue[tail++] = (uint32_t)i;
		}
	while (head < tail) {
		uint32_t d = queue[head++];
		for (uint32_t k = start[d]; k < start[d + 1]; k++) {
			uint32_t src = em->edges[3 * in[k]];
			if (!ok[src]) {
				ok[src] = 1;
				queue[tail++] = src;
			}
		}
	}
	for (uint64_t i = 0; i < n; i++)
		if (!ok[i]) {
			if (!stuck)
				*first = (uint32_t)i; /* lowest index = shallowest (BFS order) */
			stuck++;
		}
out:
	free(start);
	free(in);
	free(queue);
	return stuck;
}

/*
 * Extends a liveness counterexample past the stuck state: a walk through
 * stuck states (each new), so the reader sees how the run goes on without
 * ever reaching the goal. At most `max` steps.
 */
static void continuation(struct mc_emitter *em, const unsigned char *ok, uint32_t from,
                         unsigned int max)
{
	struct mc_result *r = em->r;
	size_t size = em->m->state_size;
	uint32_t *start, *out, walk[32], wlabel[32], cur = from;
	unsigned int len = 0;
	mc_label *labels;
	unsigned char *states;

	if (max > 32 || !csr(em, false, &start, &out))
		return;
	while (len < max) {
		uint32_t nxt = UINT32_MAX, lab = 0;
		for (uint32_t k = start[cur]; k < start[cur + 1] && nxt == UINT32_MAX; k++) {
			uint32_t d = em->edges[3 * out[k] + 1];
			bool seen = d == from;
			for (unsigned int j = 0; j < len; j++)
				seen |= walk[j] == d;
			if (!ok[d] && !seen) {
				nxt = d;
				lab = em->edges[3 * out[k] + 2];
			}
		}
		if (nxt == UINT32_MAX)
			break;
		wlabel[len] = lab;
		walk[len++] = cur = nxt;
	}
	labels = realloc(r->labels, (r->trace_len + len) * sizeof(mc_label));
	if (labels)
		r->labels = labels;
	states = realloc(r->states_, (r->trace_len + len) * size);
	if (states)
		r->states_ = states;
	if (labels && states) {
		for (unsigned int j = 0; j < len; j++) {
			labels[r->trace_len + j] = wlabel[j];
			memcpy(states + (r->trace_len + j) * size, state_at(em, walk[j]), size);
		}
		r->stuck_from = r->trace_len - 1;
		r->trace_len += len;
	}
	free(start);
	free(out);
}

static void release(struct mc_emitter *em)
{
	free(em->arena);
	free(em->parent);
	free(em->label);
	free(em->depth);
	free(em->table);
	free(em->edges);
	free(em->bad_state);
}

int mc_run(const struct mc_model *m, const struct mc_limits *lim, struct mc_result *r)
{
	struct mc_emitter em = {.m = m, .lim = lim, .r = r};
	unsigned char *init = calloc(1, m->state_size), *cur;
	char buf[256];
	bool fresh;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!init || !rehash(&em) || !grow_states(&em)) {
		free(init);
		release(&em);
		return -ENOMEM;
	}
	m->initial(m->ctx, init);
	intern(&em, init, &fresh);
	cur = init;
	em.parent[0] = 0;
	em.depth[0] = 0;
	if (m->check_state && !m->check_state(m->ctx, init, buf, sizeof(buf))) {
		r->verdict = MC_SAFETY;
		memcpy(r->message, buf, sizeof(buf));
		em.stop = true;
	}

	for (uint64_t i = 0; i < em.n && !em.stop && !em.oom; i++) {
		if (em.depth[i] > r->depth)
			r->depth = em.depth[i];
		if (lim->max_depth && em.depth[i] >= lim->max_depth) {
			em.full = true;
			continue;
		}
		em.cur = (uint32_t)i;
		/* A copy: emitting may move the arena. */
		memcpy(cur, state_at(&em, i), m->state_size);
		m->expand(m->ctx, cur, &em);
	}
	free(cur);
	r->states = em.n;
	r->complete = !em.full && !em.oom && !em.stop;
	if (r->verdict == MC_SAFETY) {
		build_trace(&em, em.cur, em.bad_state, em.bad_label);
	} else if (!r->complete) {
		r->verdict = MC_INCOMPLETE;
	} else if (m->goal) {
		uint32_t first;
		unsigned char *ok = calloc(em.n, 1);
		r->stuck_states = ok ? liveness(&em, ok, &first) : 0;
		if (!ok)
			em.oom = true;
		if (r->stuck_states) {
			r->verdict = MC_LIVENESS;
			snprintf(
			        r->message, sizeof(r->message),
			        "liveness: from the last state below, no path leads to a state where %s "
			        "(%llu reachable states are like that)",
			        m->goal_text ? m->goal_text : "the goal holds",
			        (unsigned long long)r->stuck_states);
			build_trace(&em, first, NULL, 0);
			continuation(&em, ok, first, 12);
		}
		free(ok);
	}
	if (em.oom)
		rc = -ENOMEM;
	release(&em);
	return rc;
}

void mc_result_free(struct mc_result *r)
{
	free(r->labels);
	free(r->states_);
	r->labels = NULL;
	r->states_ = NULL;
	r->trace_len = 0;
}

void mc_print_trace(const struct mc_model *m, const struct mc_result *r, FILE *out)
{
	char lab[160], st[256];

	if (!r->trace_len)
		return;
	fprintf(out, "counterexample, %u steps:\n", r->trace_len - 1);
	for (unsigned int k = 0; k < r->trace_len; k++) {
		if (k == 0)
			snprintf(lab, sizeof(lab), "initial state");
		else
			m->show_label(m->ctx, r->labels[k], lab, sizeof(lab));
		m->show_state(m->ctx, r->states_ + k * m->state_size, st, sizeof(st));
		fprintf(out, "  %3u  %-44s  %s\n", k, lab, st);
		if (r->verdict == MC_LIVENESS && k == r->stuck_from && k + 1 < r->trace_len)
			fprintf(out,
			        "       -- the goal is now unreachable; the run goes on, e.g.:\n");
	}
}
