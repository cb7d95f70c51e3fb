/* Strategy "partition" (corevm's own): isolate the protected vCPUs' cores, steer noise to housekeeping CPUs, gang the rest. */
#include <errno.h>
#include <stdlib.h>

#include "host/placement.h"
#include "sim/strategy.h"

/*
 * What a careful operator does, as one policy (docs/sim.md, "partition"):
 *  1. protected vCPUs get whole cores (smt-protect placement) away from the
 *     housekeeping CPUs' cores;
 *  2. everything that can be moved leaves those cores: steerable interrupts
 *     (their affinity) and unbound kernel threads go to the other CPUs, host
 *     tasks are kept off (cpusets), and the vCPU CPUs are nohz_full;
 *  3. what cannot be moved (per-CPU kernel threads, bottom halves of per-CPU
 *     interrupts) is deferred as in gang, but only up to `max_defer`, and is
 *     drained at the vCPU's next natural exit when one comes sooner, so the
 *     vCPU seldom takes an exit just for it.
 * Hard interrupts that must hit a sibling still arrive (HLT_WAKEUP_ICR kick).
 */

struct part {
	uint64_t *prot; /* CPUs of cores that hold protected vCPUs */
	uint32_t rr[CVM_SIM_MAX_LIST];
	uint32_t *targets[CVM_SIM_MAX_LIST]; /* per steerable source: where it goes, in order */
	uint32_t ntargets[CVM_SIM_MAX_LIST];
};

static int init(struct cvm_sim *s)
{
	struct part *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->strat = p;
	p->prot = calloc(CVM_BITMAP_WORDS(s->ncpus), sizeof(uint64_t));
	if (!p->prot)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->sc->host.nnoise; i++) {
		p->targets[i] = calloc(s->ncpus, sizeof(uint32_t));
		if (!p->targets[i])
			return -ENOMEM;
	}
	return 0;
}

static void fini(struct cvm_sim *s)
{
	struct part *p = s->strat;
	if (p) {
		free(p->prot);
		for (unsigned int i = 0; i < CVM_SIM_MAX_LIST; i++)
			free(p->targets[i]);
	}
	free(p);
	s->strat = NULL;
}

static void place(const struct cvm_sim *s, const struct sim_vm *vm, struct sim_place_choice *pc)
{
	if (vm->cfg->smt_protect) {
		pc->policy = CVM_PLACE_SMT_PROTECT;
		pc->cookies = CVM_COOKIE_VCPU;
		pc->avoid_hk = true;
		pc->whole_cores = true;
	} else {
		pc->policy = CVM_PLACE_NONE;
		pc->cookies = CVM_COOKIE_OFF;
	}
}

/* The placement changed: recompute the protected cores, nohz_full and interrupt affinities. */
static void placed(struct cvm_sim *s)
{
	struct part *p = s->strat;
	unsigned int n = s->ncpus;
	cvm_bitmap_zero(p->prot, n);
	for (unsigned int i = 0; i < s->nvcpus; i++) {
		const struct sim_vcpu *v = &s->vcpus[i];
		if (!v->protect || v->task.pinned < 0)
			continue;
		const uint32_t *cc = core_cpus(s, s->cpus[v->task.pinned].core);
		for (unsigned int t = 0; t < s->tpc; t++)
			cvm_bit_set(p->prot, cc[t]);
	}
	for (unsigned int c = 0; c < n; c++)
		s->cpus[c].nohz_full =
		        cvm_bit_test(p->prot, c) || cvm_bit_test(s->sc->host.nohz_full, c);
	for (unsigned int i = 0; i < s->sc->host.nnoise; i++) {
		const struct cvm_sim_noise_src *src = &s->sc->host.noise[i];
		if (!src->steerable)
			continue;
		/* the source's own CPUs off the protected cores, else every such CPU */
		uint64_t *m = s->steer_map[i];
		cvm_bitmap_andnot(m, src->cpus, p->prot, n);
		if (cvm_bitmap_empty(m, n)) {
			cvm_bitmap_fill(m, n);
			cvm_bitmap_andnot(m, m, p->prot, n);
		}
		unsigned int c;
		p->ntargets[i] = 0;
		cvm_bitmap_for_each(c, m, n)
		{
			p->targets[i][p->ntargets[i]++] = c;
		}
	}
	for (unsigned int c = 0; c < n; c++)
		cpu_update_tick(s, &s->cpus[c]);
}

static int steer(struct cvm_sim *s, unsigned int src, int cpu)
{
	struct part *p = s->strat;
	if (cpu < 0 || !s->sc->host.noise[src].steerable ||
	    !cvm_bit_test(p->prot, (unsigned int)cpu) || !p->ntargets[src])
		return cpu;
	/* the interrupt affinities are spread over the targets in turn */
	return (int)p->targets[src][p->rr[src]++ % p->ntargets[src]];
}

static bool host_task_allowed(const struct cvm_sim *s, const struct sim_cpu *c)
{
	const struct part *p = s->strat;
	return !cvm_bit_test(p->prot, c->id);
}

static bool defer(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it)
{
	if (!gang_defer_item(s, c, it))
		return false;
	if (!c->defer_armed) {
		c->defer_armed = true;
		c->defer_gen++;
		sim_arm(s, cpu_timer(s, c->id, T_DEFER), sim_now(s) + s->sc->params.max_defer,
		        EV_DEFER, c->id, c->defer_gen, 0);
	}
	return true;
}

static void defer_event(struct cvm_sim *s, struct sim_cpu *c)
{
	c->defer_armed = false;
	struct sim_vcpu *v = c->forced_by;
	if (v && c->deferred.n && v->task.state == TS_CURRENT) {
		struct sim_cpu *vc = &s->cpus[v->task.cpu];
		gang_drain(s, v);
		vc->slice_start = sim_now(s);
		cpu_arm_slice(s, vc, sim_now(s) + s->sc->host.timeslice);
	}
}

static bool after_exit(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->protect && gang_has_deferred(s, v)) {
		struct sim_cpu *vc = &s->cpus[v->task.cpu];
		gang_drain(s, v);
		vc->slice_start = sim_now(s);
		cpu_arm_slice(s, vc, sim_now(s) + s->sc->host.timeslice);
	}
	return true;
}

const struct sim_strategy_ops sim_strategy_partition = {
        .name = "partition",
        .init = init,
        .fini = fini,
        .place = place,
        .placed = placed,
        .steer = steer,
        .host_task_allowed = host_task_allowed,
        .defer = defer,
        .defer_event = defer_event,
        .vcpu_on = gang_vcpu_on,
        .vcpu_off = gang_vcpu_off,
        .before_entry = gang_before_entry,
        .after_exit = after_exit,
        .blocked_entry = gang_blocked_entry,
        .slice_yield = gang_slice_yield,
        .cpu_online = gang_cpu_online,
};
