/* Metrics helpers for the simulator: a log-linear latency histogram with percentiles. */
#ifndef COREVM_SIM_METRICS_H
#define COREVM_SIM_METRICS_H

#include <stdint.h>

/*
 * Values 0..31 ns are counted exactly; above that each power of two is split
 * into 16 buckets, so a percentile is within 1/16 (6.25%) of the true value
 * (reported as its bucket's upper bound, never above the exact maximum).
 * Plain data, no allocation: 976 counters.
 */
#define SIM_HIST_BUCKETS 976

struct sim_hist {
	uint64_t n;
	uint64_t max;
	uint64_t sum;
	uint64_t b[SIM_HIST_BUCKETS];
};

void sim_hist_add(struct sim_hist *h, uint64_t v);

/* The p-quantile (0 < p <= 1) of what was added; 0 when empty. */
uint64_t sim_hist_quantile(const struct sim_hist *h, double p);

#endif
