/*
 * A lock-free rate limit for diagnostics a guest can provoke: a burst of lines,
 * then at most one per interval; the rest is counted, never printed. Time goes
 * in as an argument, so tests drive it without a clock.
 */
#ifndef COREVM_UTIL_RATELIMIT_H
#define COREVM_UTIL_RATELIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct cvm_ratelimit {
	atomic_uint burst;           /* lines still allowed at once */
	_Atomic uint64_t next_ns;    /* after the burst: earliest time of the next line */
	_Atomic uint64_t suppressed; /* lines refused */
	uint64_t interval_ns;
};

/* Allows `burst` lines at once, then one per `interval_ns`. Before any other thread uses it. */
void cvm_ratelimit_init(struct cvm_ratelimit *rl, unsigned int burst, uint64_t interval_ns);

/*
 * Whether a line may be printed at `now_ns` (a monotonic clock). Any thread.
 * A refusal is counted in `suppressed`.
 */
bool cvm_ratelimit_allow(struct cvm_ratelimit *rl, uint64_t now_ns);

/* Lines refused so far. */
uint64_t cvm_ratelimit_suppressed(const struct cvm_ratelimit *rl);

#endif
