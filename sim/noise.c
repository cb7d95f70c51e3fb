/* Host noise: arrival processes per source and CPU, where arrivals land, and the delay each waits before service. */
#include <errno.h>
#include <stdlib.h>

#include "sim/sim_internal.h"
#include "sim/strategy.h"

/* Stream ids for the PRNG: noise streams live in their own range (see rng.h). */
#define NOISE_STREAM_BASE (UINT64_C(1) << 40)

/*
 * A per-CPU source whose arrivals are Poisson needs no stream per CPU: the
 * superposition of independent Poisson processes of rate r on k CPUs is one
 * Poisson process of rate k*r whose arrivals land on a uniformly chosen CPU,
 * the same distribution with one queued event instead of k. Periodic sources
 * keep one stream per CPU.
 */
static bool per_cpu_streams(const struct cvm_sim_noise_src *src)
{
	return src->per_cpu && src->arrival.kind != CVM_ARRIVAL_POISSON;
}

int noise_init(struct cvm_sim *s)
{
	const struct cvm_sim_host *h = &s->sc->host;
	unsigned int n = 0;
	for (unsigned int i = 0; i < h->nnoise; i++)
		n += per_cpu_streams(&h->noise[i]) ? cvm_bitmap_weight(h->noise[i].cpus, s->ncpus)
		                                   : 1;
	s->streams = calloc(n ? n : 1, sizeof(*s->streams));
	if (!s->streams)
		return -ENOMEM;
	s->nstreams = n;
	n = 0;
	for (unsigned int i = 0; i < h->nnoise; i++) {
		const struct cvm_sim_noise_src *src = &h->noise[i];
		s->src_cpus[i] = malloc(s->ncpus * sizeof(uint32_t));
		s->steer_map[i] = calloc(CVM_BITMAP_WORDS(s->ncpus), sizeof(uint64_t));
		if (!s->src_cpus[i] || !s->steer_map[i])
			return -ENOMEM;
		unsigned int c, k = 0;
		cvm_bitmap_for_each(c, src->cpus, s->ncpus)
		{
			s->src_cpus[i][k++] = c;
			s->steer_map[i][c / 64] |= UINT64_C(1) << (c % 64);
		}
		s->src_ncpus[i] = k;
		bool each = per_cpu_streams(src);
		for (unsigned int j = 0; j < (each ? k : 1u); j++) {
			struct sim_stream *st = &s->streams[n];
			st->src = (uint16_t)i;
			st->cpu = each ? (int32_t)s->src_cpus[i][j] : -1;
			st->arrival = src->arrival;
			if (src->per_cpu && !each)
				st->arrival.rate *=
				        k; /* the superposition of the per-CPU processes */
			cvm_rng_init(&st->rng, s->opt.seed,
			             NOISE_STREAM_BASE + ((uint64_t)i << 16) +
			                     (uint64_t)(st->cpu + 1));
			uint64_t gap = cvm_sim_arrival_gap(&st->arrival, &st->rng);
			if (gap != CVM_SIM_NEVER)
				sim_at(s, gap, EV_NOISE, n, 0, 0);
			n++;
		}
	}
	return 0;
}

int noise_target(struct cvm_sim *s, unsigned int src, int cpu)
{
	cpu = strat_steer(s, src, cpu);
	if (cpu >= 0 && s->cpus[cpu].online)
		return cpu;
	/* The CPU is offline: the interrupt's affinity falls back to the next online CPU of its set, then any. */
	const uint64_t *set = s->steer_map[src];
	unsigned int n = s->ncpus, start = cpu >= 0 ? (unsigned int)cpu : 0;
	for (unsigned int i = 1; i <= n; i++) {
		unsigned int c = (start + i) % n;
		if (cvm_bit_test(set, c) && s->cpus[c].online)
			return (int)c;
	}
	for (unsigned int i = 1; i <= n; i++) {
		unsigned int c = (start + i) % n;
		if (s->cpus[c].online)
			return (int)c;
	}
	return -1;
}

/* An unbound kernel thread runs on an idle CPU of its set if there is one (searching from `cpu`). */
static int unbound_target(struct cvm_sim *s, unsigned int src, int cpu)
{
	const uint64_t *set = s->steer_map[src];
	unsigned int n = s->ncpus, start = cpu >= 0 ? (unsigned int)cpu : 0;
	for (unsigned int k = 0; k < n; k++) {
		unsigned int c = (start + k) % n;
		if (cvm_bit_test(set, c) && cvm_bit_test(s->idle_map, c))
			return (int)c;
	}
	return cpu;
}

void noise_event(struct cvm_sim *s, uint32_t id)
{
	struct sim_stream *st = &s->streams[id];
	const struct cvm_sim_noise_src *src = &s->sc->host.noise[st->src];
	uint64_t gap = cvm_sim_arrival_gap(&st->arrival, &st->rng);
	if (gap != CVM_SIM_NEVER)
		sim_at(s, sim_now(s) + gap, EV_NOISE, id, 0, 0);
	int cpu = st->cpu;
	if (cpu < 0)
		cpu = (int)s->src_cpus[st->src][cvm_rng_below(&st->rng, s->src_ncpus[st->src])];
	struct sim_item it = {.arrival = sim_now(s), .src = st->src};
	uint64_t d = cvm_sim_dist_draw(&src->duration, &st->rng);
	if (src->kind == CVM_NOISE_SOFTIRQ) {
		it.left = src->hardirq_ns;
		it.bottom_left = d ? d : 1;
	} else {
		it.left = d;
	}
	s->st.noise_items++;
	if (src->kind == CVM_NOISE_KTHREAD && !src->per_cpu)
		cpu = unbound_target(s, st->src, strat_steer(s, st->src, cpu));
	cpu = noise_target(s, st->src, cpu);
	if (cpu < 0)
		return;
	if (sim_tracing(s))
		sim_trace(s, "cpu%d noise %s %s %lluns", cpu, src->name,
		          cvm_sim_noise_kind_name(src->kind), (unsigned long long)d);
	if (src->kind == CVM_NOISE_KTHREAD)
		kthread_enqueue(s, &s->cpus[cpu], it);
	else
		irq_enqueue(s, &s->cpus[cpu], it);
}

void noise_started(struct cvm_sim *s, struct sim_item *it, uint64_t extra)
{
	it->counted = 1;
	if (it->src >= SIM_SRC_SPECIAL)
		return;
	uint64_t start = sim_now(s) + extra;
	if (it->bottom_left) {
		it->delay = start - it->arrival; /* sampled once, when its bottom half starts */
		return;
	}
	uint64_t d = (it->bottom ? it->delay : 0) + start - it->arrival;
	sim_hist_add(&s->noise_delay, d);
	if (sim_tracing(s) && d >= 1000000)
		sim_trace(s, "noise %s starts %lluns late", s->sc->host.noise[it->src].name,
		          (unsigned long long)d);
}
