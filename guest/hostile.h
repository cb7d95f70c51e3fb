/*
 * Shared by the hostile test guests (hostile_*.c): a deterministic PRNG, the
 * BSP's progress loop that proves corevm keeps serving one vCPU while others
 * misbehave, and the start and wait helpers around it.
 *
 * The protocol: the BSP starts the APs, then loops on "progress steps" (an IN
 * from an unclaimed port, which corevm must answer with all ones) until every
 * misbehaving AP is done. A misbehaving AP does half its work, then waits
 * (bounded) until the BSP has made HOSTILE_MIN_STEPS steps since the AP
 * started, then does the rest: so the BSP provably got served while that AP
 * misbehaved, without any timing assumption. Progress steps are counted by
 * corevm too (the unclaimed port's count in --stats).
 */
#ifndef GUEST_HOSTILE_H
#define GUEST_HOSTILE_H

#include "guest/lib/kit.h"

#define HOSTILE_PROGRESS_PORT 0x81 /* unclaimed: reads all ones */
#define HOSTILE_MIN_STEPS     64
#define HOSTILE_STAGE_SUMMARY (CVM_STAGE_USER + 0) /* the BSP: steps total, during, APs done */
#define HOSTILE_STAGE_AP      (CVM_STAGE_USER + 1) /* each misbehaving AP: what it did */

static volatile uint64_t hostile_steps;
static volatile uint32_t hostile_aps_done;

/* xorshift64: deterministic garbage. */
static inline uint64_t hostile_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/*
 * One progress step: corevm must answer the unclaimed port with all ones. A
 * short pause between steps leaves the host CPUs to the misbehaving vCPUs.
 */
static inline void hostile_step(void)
{
	uint8_t v = inb(HOSTILE_PROGRESS_PORT);
	GUEST_ASSERT_EQ(v, 0xff);
	hostile_steps++; /* only the BSP writes it */
	for (int i = 0; i < 64; i++)
		cpu_relax();
}

/*
 * BSP: steps until `n` misbehaving APs are done (bounded by
 * KIT_TSC_TIMEOUT_LONG per AP), then reports HOSTILE_STAGE_SUMMARY with the
 * steps made and `extra`.
 */
static inline void hostile_progress(unsigned int n, uint64_t extra)
{
	uint64_t t0 = rdtsc();
	while (atomic_load32(&hostile_aps_done) < n) {
		hostile_step();
		GUEST_ASSERT_MSG(rdtsc() - t0 < n * KIT_TSC_TIMEOUT_LONG,
		                 "hostile: %u of %u misbehaving APs finished", hostile_aps_done, n);
	}
	GUEST_REPORT(HOSTILE_STAGE_SUMMARY, hostile_steps, n, extra);
}

/* AP: the BSP's step count now. */
static inline uint64_t hostile_steps_now(void)
{
	return *(volatile uint64_t *)&hostile_steps;
}

/* AP: waits (bounded) until the BSP made HOSTILE_MIN_STEPS steps after `since`. */
static inline void hostile_wait_progress(uint64_t since)
{
	uint64_t t0 = rdtsc();
	while (hostile_steps_now() < since + HOSTILE_MIN_STEPS) {
		GUEST_ASSERT_MSG(rdtsc() - t0 < KIT_TSC_TIMEOUT_LONG,
		                 "hostile: the BSP made no progress while an AP misbehaved");
		cpu_relax();
	}
}

/* AP: this misbehaving AP is done. */
static inline void hostile_ap_done(void)
{
	atomic_fetch_add32(&hostile_aps_done, 1);
}

/* BSP: starts every AP (broadcast INIT-SIPI-SIPI); needs >= min vCPUs. Returns NB_CPUS. */
static inline unsigned int hostile_start(guest_ap_fn fn, unsigned int min)
{
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= min, "hostile: needs at least %u vCPUs, has %u", min, n);
	guest_smp_prepare(fn);
	GUEST_ASSERT_EQ(guest_smp_start_all(n - 1, KIT_TSC_TIMEOUT_LONG), n - 1);
	return n;
}

#endif
