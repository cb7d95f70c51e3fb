/* The simulator's seeded PRNG: xoshiro256** seeded through splitmix64, one independent stream per entity. */
#ifndef COREVM_SIM_RNG_H
#define COREVM_SIM_RNG_H

#include <stdint.h>

/*
 * Algorithms, written from their published descriptions (Blackman and Vigna,
 * "Scrambled linear pseudorandom number generators", 2018):
 *
 * splitmix64 (used only to expand a seed): x += 0x9e3779b97f4a7c15;
 *   z = x; z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9; z = (z ^ z >> 27) * 0x94d049bb133111eb;
 *   return z ^ z >> 31.
 *
 * xoshiro256**: state s[0..3], never all zero.
 *   result = rotl(s[1] * 5, 7) * 9; t = s[1] << 17;
 *   s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45).
 *
 * Streams: every random process of a run (one noise source on one CPU, one vCPU's
 * workload, one hotplug process...) owns a stream seeded from (run seed, stream id),
 * so adding a VM to a scenario does not change the noise the host sees.
 */
struct cvm_rng {
	uint64_t s[4];
};

static inline uint64_t cvm_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Seeds `r` for stream `stream` of run seed `seed`. Distinct (seed, stream) pairs give unrelated streams. */
static inline void cvm_rng_init(struct cvm_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	uint64_t mix = cvm_splitmix64(&x) ^ (stream * UINT64_C(0xd1342543de82ef95));
	for (int i = 0; i < 4; i++)
		r->s[i] = cvm_splitmix64(&mix);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

static inline uint64_t cvm_rotl64(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t cvm_rng_next(struct cvm_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = cvm_rotl64(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = cvm_rotl64(s[3], 45);
	return result;
}

/* A uniform double in [0, 1) with 53 random bits. */
static inline double cvm_rng_unit(struct cvm_rng *r)
{
	return (double)(cvm_rng_next(r) >> 11) * 0x1.0p-53;
}

/* A uniform double in (0, 1]: safe to take the logarithm of. */
static inline double cvm_rng_unit_open0(struct cvm_rng *r)
{
	return (double)((cvm_rng_next(r) >> 11) + 1) * 0x1.0p-53;
}

__extension__ typedef unsigned __int128 cvm_u128;

/* A uniform integer in [0, n) (n > 0), by Lemire's multiply-shift with rejection. */
static inline uint64_t cvm_rng_below(struct cvm_rng *r, uint64_t n)
{
	cvm_u128 m = (cvm_u128)cvm_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;
	if (lo < n) {
		uint64_t threshold = -n % n;
		while (lo < threshold) {
			m = (cvm_u128)cvm_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

#endif
