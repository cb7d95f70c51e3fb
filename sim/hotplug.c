/* Host CPU hotplug in the simulator: scheduled and random offline/online, and virtualization that fails to enable (seed 003). */
#include "sim/sim_internal.h"
#include "sim/strategy.h"

int hotplug_init(struct cvm_sim *s)
{
	const struct cvm_sim_hotplug *hp = &s->sc->host.hotplug;
	for (unsigned int i = 0; i < hp->nevents; i++)
		sim_at(s, hp->events[i].at, EV_HOTPLUG, i, 0, 0);
	if (hp->random_rate > 0 && !cvm_bitmap_empty(hp->random_cpus, s->ncpus)) {
		struct cvm_sim_arrival a = {.kind = CVM_ARRIVAL_POISSON, .rate = hp->random_rate};
		sim_at(s, cvm_sim_arrival_gap(&a, &s->hp_rng), EV_HP_RANDOM, 0, 0, 0);
	}
	return s->err;
}

static void host_offline(struct cvm_sim *s, struct sim_cpu *c)
{
	if (!c->online && !c->strat_off)
		return;
	s->st.hp_events++;
	if (sim_tracing(s))
		sim_trace(s, "cpu%u host offline", c->id);
	if (c->online)
		cpu_set_offline(s, c, false);
	c->strat_off = false; /* offline for the host now, whoever offlined it first */
	cpu_acct(s, c);
	place_cpu_offline(s, c->id);
}

static void host_online(struct cvm_sim *s, struct sim_cpu *c)
{
	if (c->online || c->strat_off)
		return;
	s->st.hp_events++;
	double p = s->sc->host.hotplug.enable_fail[c->id];
	c->virt_ok = !(p > 0 && cvm_rng_unit(&s->hp_rng) < p);
	if (sim_tracing(s))
		sim_trace(s, "cpu%u host online%s", c->id,
		          c->virt_ok ? "" : ": enabling virtualization failed");
	cpu_set_online(s, c, false);
	place_cpu_online(s, c->id);
}

void hotplug_event(struct cvm_sim *s, enum sim_ev kind, uint32_t obj)
{
	const struct cvm_sim_hotplug *hp = &s->sc->host.hotplug;
	if (kind == EV_HOTPLUG) {
		const struct cvm_sim_hp_event *e = &hp->events[obj];
		if (e->op == CVM_HP_OFFLINE)
			host_offline(s, &s->cpus[e->cpu]);
		else
			host_online(s, &s->cpus[e->cpu]);
	} else if (kind == EV_HP_UP) {
		host_online(s, &s->cpus[obj]);
	} else {
		struct cvm_sim_arrival a = {.kind = CVM_ARRIVAL_POISSON, .rate = hp->random_rate};
		sim_at(s, sim_now(s) + cvm_sim_arrival_gap(&a, &s->hp_rng), EV_HP_RANDOM, 0, 0, 0);
		/* a random online CPU of the set goes down for a while */
		unsigned int n = 0, c;
		cvm_bitmap_for_each(c, hp->random_cpus, s->ncpus)
		{
			if (s->cpus[c].online)
				n++;
		}
		if (!n)
			return;
		uint64_t k = cvm_rng_below(&s->hp_rng, n);
		cvm_bitmap_for_each(c, hp->random_cpus, s->ncpus)
		{
			if (s->cpus[c].online && !k--)
				break;
		}
		host_offline(s, &s->cpus[c]);
		sim_at(s, sim_now(s) + cvm_sim_dist_draw(&hp->random_down, &s->hp_rng), EV_HP_UP, c,
		       0, 0);
	}
}
