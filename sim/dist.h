/* Random durations and arrival processes for the simulator: what a scenario's "duration" and "rate" keys mean. */
#ifndef COREVM_SIM_DIST_H
#define COREVM_SIM_DIST_H

#include <stdint.h>

#include "sim/rng.h"

/*
 * A duration distribution, in nanoseconds. Every draw is at least 1 ns unless the
 * distribution is "fixed" at 0.
 *   fixed      a
 *   uniform    in [a, b]
 *   exp        exponential with mean a
 *   lognormal  median a, shape sigma (log-space standard deviation), capped at max when max > 0
 *   pareto     minimum a, tail index alpha (> 0), capped at max when max > 0
 */
enum cvm_sim_dist_kind {
	CVM_DIST_FIXED,
	CVM_DIST_UNIFORM,
	CVM_DIST_EXP,
	CVM_DIST_LOGNORMAL,
	CVM_DIST_PARETO,
};

struct cvm_sim_dist {
	enum cvm_sim_dist_kind kind;
	uint64_t a;
	uint64_t b;
	double shape;
	uint64_t max;
};

uint64_t cvm_sim_dist_draw(const struct cvm_sim_dist *d, struct cvm_rng *r);

/* The distribution's mean in ns (of the capped distribution, approximately for caps). */
double cvm_sim_dist_mean(const struct cvm_sim_dist *d);

static inline struct cvm_sim_dist cvm_sim_dist_fixed(uint64_t ns)
{
	struct cvm_sim_dist d = {.kind = CVM_DIST_FIXED, .a = ns};
	return d;
}

/*
 * An arrival process: Poisson with `rate` events per second, or periodic with
 * `period` ns plus a uniform jitter in [0, jitter]. A Poisson rate of 0 or a period
 * of 0 never fires.
 */
enum cvm_sim_arrival_kind {
	CVM_ARRIVAL_POISSON,
	CVM_ARRIVAL_PERIODIC,
};

struct cvm_sim_arrival {
	enum cvm_sim_arrival_kind kind;
	double rate;
	uint64_t period;
	uint64_t jitter;
};

#define CVM_SIM_NEVER UINT64_MAX

/* The gap from one arrival to the next, in ns, or CVM_SIM_NEVER. */
uint64_t cvm_sim_arrival_gap(const struct cvm_sim_arrival *a, struct cvm_rng *r);

/* Arrivals per second on average (0 for a process that never fires). */
double cvm_sim_arrival_rate(const struct cvm_sim_arrival *a);

#endif
