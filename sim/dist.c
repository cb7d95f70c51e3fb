/* Draws from the simulator's duration distributions and arrival processes (see dist.h). */
#include "sim/dist.h"

#include <math.h>

static uint64_t clamp_ns(double v, uint64_t max)
{
	if (!(v >= 1.0))
		return 1;
	if (max && v > (double)max)
		return max;
	if (v >= 1.8e19)
		return UINT64_C(18000000000000000000);
	return (uint64_t)(v + 0.5);
}

/* One standard normal variate by the Box-Muller transform (the second variate is discarded). */
static double std_normal(struct cvm_rng *r)
{
	double u1 = cvm_rng_unit_open0(r);
	double u2 = cvm_rng_unit(r);
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t cvm_sim_dist_draw(const struct cvm_sim_dist *d, struct cvm_rng *r)
{
	switch (d->kind) {
	case CVM_DIST_FIXED:
		return d->a;
	case CVM_DIST_UNIFORM:
		return d->a + cvm_rng_below(r, d->b - d->a + 1);
	case CVM_DIST_EXP:
		return clamp_ns(-log(cvm_rng_unit_open0(r)) * (double)d->a, 0);
	case CVM_DIST_LOGNORMAL:
		return clamp_ns((double)d->a * exp(d->shape * std_normal(r)), d->max);
	case CVM_DIST_PARETO:
		return clamp_ns((double)d->a / pow(cvm_rng_unit_open0(r), 1.0 / d->shape), d->max);
	}
	return d->a;
}

double cvm_sim_dist_mean(const struct cvm_sim_dist *d)
{
	switch (d->kind) {
	case CVM_DIST_FIXED:
		return (double)d->a;
	case CVM_DIST_UNIFORM:
		return ((double)d->a + (double)d->b) / 2.0;
	case CVM_DIST_EXP:
		return (double)d->a;
	case CVM_DIST_LOGNORMAL: {
		double m = (double)d->a * exp(d->shape * d->shape / 2.0);
		return d->max && m > (double)d->max ? (double)d->max : m;
	}
	case CVM_DIST_PARETO: {
		double m;
		if (d->shape <= 1.0)
			m = d->max ? (double)d->max : INFINITY;
		else
			m = d->shape * (double)d->a / (d->shape - 1.0);
		return d->max && m > (double)d->max ? (double)d->max : m;
	}
	}
	return (double)d->a;
}

uint64_t cvm_sim_arrival_gap(const struct cvm_sim_arrival *a, struct cvm_rng *r)
{
	switch (a->kind) {
	case CVM_ARRIVAL_POISSON:
		if (!(a->rate > 0.0))
			return CVM_SIM_NEVER;
		return clamp_ns(-log(cvm_rng_unit_open0(r)) * 1e9 / a->rate, 0);
	case CVM_ARRIVAL_PERIODIC:
		if (!a->period)
			return CVM_SIM_NEVER;
		return a->period + (a->jitter ? cvm_rng_below(r, a->jitter + 1) : 0);
	}
	return CVM_SIM_NEVER;
}

double cvm_sim_arrival_rate(const struct cvm_sim_arrival *a)
{
	if (a->kind == CVM_ARRIVAL_POISSON)
		return a->rate > 0.0 ? a->rate : 0.0;
	if (!a->period)
		return 0.0;
	return 1e9 / ((double)a->period + (double)a->jitter / 2.0);
}
