/* A small explicit-state model checker: breadth-first search with state hashing, invariants, liveness. */
#ifndef COREVM_MODEL_MC_H
#define COREVM_MODEL_MC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The engine knows nothing about vCPUs: a model gives fixed-size states
 * (plain bytes, compared with memcmp, so padding must be zeroed), an initial
 * state, and a function that emits every successor of a state with a label.
 * The engine explores breadth-first, so the first violation it finds has a
 * shortest trace, and keeps each state once (hash set).
 *
 * Safety: the model reports a violated transition invariant with
 * mc_violation() while expanding; a state invariant by check_state().
 * Liveness ("the goal can always still be reached", EF goal in every
 * reachable state): if goal() is given, the engine records the edges and,
 * after a complete exploration, walks them backwards from the goal states;
 * a reachable state that cannot reach any goal state is a counterexample
 * (the shortest path to the nearest such state is printed). With a depth or
 * state limit the exploration is not complete and liveness is not decided.
 */

typedef uint32_t mc_label;

struct mc_emitter;

struct mc_model {
	size_t state_size;
	void *ctx;
	void (*initial)(void *ctx, void *state);
	/* Calls mc_emit() (or mc_violation()) once per successor of `state`. */
	void (*expand)(void *ctx, const void *state, struct mc_emitter *em);
	/* Optional: false and a message when `state` breaks a state invariant. */
	bool (*check_state)(void *ctx, const void *state, char *msg, size_t len);
	/* Optional: liveness goal. */
	bool (*goal)(void *ctx, const void *state);
	const char *goal_text; /* "cpu1 sets its started flag" */
	/* Printing. */
	void (*show_label)(void *ctx, mc_label l, char *buf, size_t len);
	void (*show_state)(void *ctx, const void *state, char *buf, size_t len);
};

/* Successor `next` of the state being expanded, reached by `label`. */
void mc_emit(struct mc_emitter *em, mc_label label, const void *next);

/* The transition `label` to `next` breaks an invariant: stops the search. */
void mc_violation(struct mc_emitter *em, mc_label label, const void *next, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

struct mc_limits {
	uint32_t max_depth;  /* 0: none */
	uint64_t max_states; /* 0: none */
};

enum mc_verdict {
	MC_PASS = 0,   /* complete, no violation */
	MC_SAFETY,     /* an invariant failed */
	MC_LIVENESS,   /* a reachable state from which the goal is unreachable */
	MC_INCOMPLETE, /* limits hit before the end, no violation found so far */
};

struct mc_result {
	enum mc_verdict verdict;
	uint64_t states, transitions;
	uint32_t depth;        /* deepest level reached */
	uint64_t stuck_states; /* liveness: states that cannot reach the goal */
	bool complete;
	char message[256];
	/* Counterexample: trace_len states (initial first) and the labels leading to them. */
	unsigned int trace_len;
	unsigned int stuck_from; /* liveness: index of the first state that cannot reach the goal */
	mc_label *labels;        /* labels[0] unused */
	unsigned char *states_;  /* trace_len * state_size bytes */
};

/* Explores `m` within `lim`. Returns 0, or -ENOMEM (result then says how far it got). */
int mc_run(const struct mc_model *m, const struct mc_limits *lim, struct mc_result *r);

void mc_result_free(struct mc_result *r);

/* Prints the counterexample trace (nothing when there is none). */
void mc_print_trace(const struct mc_model *m, const struct mc_result *r, FILE *out);

#endif
