/* The simulator's latency histogram (see metrics.h). */
#include "sim/metrics.h"

static unsigned int bucket_of(uint64_t v)
{
	if (v < 32)
		return (unsigned int)v;
	unsigned int msb = 63u - (unsigned int)__builtin_clzll(v);
	unsigned int e = msb - 4; /* v >> e is in [16, 32) */
	return 32 + (e - 1) * 16 + (unsigned int)((v >> e) - 16);
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_top(unsigned int i)
{
	if (i < 32)
		return i;
	unsigned int e = (i - 32) / 16 + 1;
	uint64_t mant = (i - 32) % 16 + 16;
	return ((mant + 1) << e) - 1;
}

void sim_hist_add(struct sim_hist *h, uint64_t v)
{
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
	h->b[bucket_of(v)]++;
}

uint64_t sim_hist_quantile(const struct sim_hist *h, double p)
{
	if (!h->n)
		return 0;
	uint64_t want = (uint64_t)(p * (double)h->n);
	if ((double)want < p * (double)h->n)
		want++;
	if (want < 1)
		want = 1;
	uint64_t seen = 0;
	for (unsigned int i = 0; i < SIM_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t top = bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
