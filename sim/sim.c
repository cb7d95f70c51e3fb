/* The simulator's run: build the host and guests from a scenario, dispatch events in (time, sequence) order, collect the result. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_internal.h"
#include "sim/strategy.h"
#include "util/log.h"

static const struct sim_strategy_ops *const strategies[CVM_STRAT_NR] = {
        [CVM_STRAT_PLAIN] = &sim_strategy_plain,
        [CVM_STRAT_CORE_COOKIE] = &sim_strategy_core_cookie,
        [CVM_STRAT_SIBLING_OFFLINE] = &sim_strategy_sibling_offline,
        [CVM_STRAT_GANG] = &sim_strategy_gang,
        [CVM_STRAT_PARTITION] = &sim_strategy_partition,
};

const struct sim_strategy_ops *sim_strategy_ops_of(enum cvm_sim_strategy_id id)
{
	return strategies[id];
}

const char *cvm_sim_strategy_name(enum cvm_sim_strategy_id id)
{
	return id < CVM_STRAT_NR ? strategies[id]->name : "?";
}

int cvm_sim_strategy_parse(const char *name, enum cvm_sim_strategy_id *id)
{
	for (unsigned int i = 0; i < CVM_STRAT_NR; i++)
		if (!strcmp(name, strategies[i]->name)) {
			*id = (enum cvm_sim_strategy_id)i;
			return 0;
		}
	return -EINVAL;
}

void sim_at(struct cvm_sim *s, uint64_t t, enum sim_ev kind, uint32_t obj, uint32_t gen,
            uint32_t arg)
{
	if (s->err)
		return;
	if (__cvm_sim_engine_at(&s->eng, t, kind, obj, gen, arg))
		sim_fail(s, -ENOMEM);
}

void sim_arm(struct cvm_sim *s, uint32_t timer, uint64_t t, enum sim_ev kind, uint32_t obj,
             uint32_t gen, uint32_t arg)
{
	if (s->err)
		return;
	if (__cvm_sim_engine_arm(&s->eng, timer, t, kind, obj, gen, arg))
		sim_fail(s, -ENOMEM);
}

void sim_fail(struct cvm_sim *s, int err)
{
	if (!s->err) {
		if (err == -ENOMEM)
			cvm_err("sim", "out of memory at t=%lluns", (unsigned long long)sim_now(s));
		s->err = err;
	}
}

void sim_trace(struct cvm_sim *s, const char *fmt, ...)
{
	if (!s->opt.trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->trace_buf, sizeof(s->trace_buf), fmt, ap);
	va_end(ap);
	fprintf(s->opt.trace, "%012llu %s\n", (unsigned long long)sim_now(s), s->trace_buf);
}

/* ---- building ---- */

static uint64_t *new_map(struct cvm_sim *s)
{
	uint64_t *m = calloc(CVM_BITMAP_WORDS(s->ncpus), sizeof(uint64_t));
	if (!m)
		sim_fail(s, -ENOMEM);
	return m;
}

static int build_host(struct cvm_sim *s)
{
	const struct cvm_sim_host *h = &s->sc->host;
	s->ncpus = h->ncpus;
	s->tpc = h->threads_per_core;
	s->ncores = h->sockets * h->cores_per_socket;
	s->cpus = calloc(s->ncpus, sizeof(*s->cpus));
	s->core_cpus = calloc((size_t)s->ncores * s->tpc, sizeof(uint32_t));
	s->waiting_cpus = new_map(s);
	s->idle_map = new_map(s);
	s->scratch = new_map(s);
	if (!s->cpus || !s->core_cpus || s->err)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->ncpus; i++) {
		struct sim_cpu *c = &s->cpus[i];
		c->id = i;
		c->hk = cvm_bit_test(h->housekeeping, i);
		c->nohz_full = cvm_bit_test(h->nohz_full, i);
		sched_init_cpu(s, c);
	}
	/* Host tasks. */
	unsigned int n = 0;
	for (unsigned int i = 0; i < h->ntasks; i++)
		n += h->tasks[i].count;
	s->htasks = calloc(n ? n : 1, sizeof(*s->htasks));
	if (!s->htasks)
		return -ENOMEM;
	s->nhtasks = n;
	n = 0;
	for (unsigned int i = 0; i < h->ntasks; i++) {
		for (unsigned int k = 0; k < h->tasks[i].count; k++, n++) {
			struct sim_task *t = &s->htasks[n];
			t->id = n;
			t->kind = TASK_HOST;
			t->state = TS_BLOCKED;
			t->cpu = -1;
			t->pinned = -1;
			t->src = i;
			t->allowed = h->tasks[i].cpus;
			cvm_rng_init(&t->rng, s->opt.seed, (UINT64_C(2) << 40) + n);
			sim_at(s, cvm_sim_dist_draw(&h->tasks[i].sleep, &t->rng), EV_TASK_WAKE, n,
			       0, 0);
		}
	}
	return s->err;
}

static int build_vms(struct cvm_sim *s)
{
	const struct cvm_sim_scenario *sc = s->sc;
	unsigned int nvms = 0;
	for (unsigned int i = 0; i < sc->nvms; i++)
		nvms += sc->vms[i].count;
	s->vms = calloc(nvms, sizeof(*s->vms));
	s->vcpus = calloc(sc->total_vcpus, sizeof(*s->vcpus));
	if (!s->vms || !s->vcpus)
		return -ENOMEM;
	s->nvms = nvms;
	s->nvcpus = sc->total_vcpus;
	unsigned int vm = 0, g = 0;
	for (unsigned int i = 0; i < sc->nvms; i++) {
		for (unsigned int k = 0; k < sc->vms[i].count; k++, vm++) {
			struct sim_vm *m = &s->vms[vm];
			m->id = vm;
			m->cfg = &sc->vms[i];
			m->nvcpus = sc->vms[i].vcpus;
			m->vcpus = &s->vcpus[g];
			for (unsigned int j = 0; j < m->nvcpus; j++, g++) {
				struct sim_vcpu *v = &s->vcpus[g];
				v->gid = g;
				v->idx = j;
				v->vm = m;
				v->protect = m->cfg->smt_protect;
				v->quiescent = true;
				v->acct = 3;
				v->task.id = g;
				v->task.kind = TASK_VCPU;
				v->task.state = TS_BLOCKED;
				v->task.cpu = -1;
				v->task.pinned = -1;
				v->task.vcpu = v;
				v->task.allowed = new_map(s);
				v->blocked = true;
			}
		}
	}
	return s->err;
}

static void free_all(struct cvm_sim *s)
{
	if (s->ops && s->ops->fini)
		s->ops->fini(s);
	guest_fini(s);
	place_fini(s);
	if (s->cpus)
		for (unsigned int i = 0; i < s->ncpus; i++) {
			itemq_free(&s->cpus[i].irqq);
			itemq_free(&s->cpus[i].kq);
			itemq_free(&s->cpus[i].deferred);
		}
	if (s->vcpus)
		for (unsigned int i = 0; i < s->nvcpus; i++)
			free(s->vcpus[i].task.allowed);
	for (unsigned int i = 0; i < CVM_SIM_MAX_LIST; i++) {
		free(s->steer_map[i]);
		free(s->src_cpus[i]);
	}
	free(s->vcpus);
	free(s->vms);
	free(s->htasks);
	free(s->streams);
	free(s->cpus);
	free(s->core_cpus);
	free(s->waiting_cpus);
	free(s->idle_map);
	free(s->scratch);
	cvm_sim_engine_fini(&s->eng);
	free(s);
}

/* ---- running ---- */

static void dispatch(struct cvm_sim *s, const struct cvm_sim_event *ev)
{
	switch ((enum sim_ev)ev->kind) {
	case EV_SEG:
		cpu_seg_event(s, &s->cpus[ev->obj], ev->gen);
		break;
	case EV_TICK:
		cpu_tick_event(s, &s->cpus[ev->obj], ev->gen);
		break;
	case EV_SLICE:
		cpu_slice_event(s, &s->cpus[ev->obj], ev->gen);
		break;
	case EV_NOISE:
		noise_event(s, ev->obj);
		break;
	case EV_TASK_WAKE:
		host_task_event(s, &s->htasks[ev->obj], ev->gen);
		break;
	case EV_KICK:
		vcpu_kick_event(s, &s->vcpus[ev->obj], ev->gen, ev->arg);
		break;
	case EV_LAPIC:
		guest_lapic_event(s, &s->vcpus[ev->obj], ev->gen);
		break;
	case EV_DEVICE:
		guest_device_event(s, &s->vcpus[ev->obj]);
		break;
	case EV_VMM_WORK:
		guest_vmm_work_event(s, &s->vcpus[ev->obj]);
		break;
	case EV_GUEST:
		guest_script_event(s, &s->vms[ev->obj], ev->arg);
		break;
	case EV_HOTPLUG:
	case EV_HP_RANDOM:
	case EV_HP_UP:
		hotplug_event(s, (enum sim_ev)ev->kind, ev->obj);
		break;
	case EV_PROBE:
		place_probe_event(s, ev->obj, ev->gen);
		break;
	case EV_DEFER: {
		struct sim_cpu *c = &s->cpus[ev->obj];
		if (ev->gen == c->defer_gen && s->ops->defer_event)
			s->ops->defer_event(s, c);
		break;
	}
	case EV_KTH:
		cpu_kth_event(s, &s->cpus[ev->obj], ev->gen);
		break;
	case EV_END:
	case EV_NR:
		break;
	}
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void set_thresholds(struct cvm_sim *s)
{
	const struct cvm_sim_watchdog *w = &s->sc->watchdog;
	s->thresholds[0] = w->threshold;
	s->nthresholds = 1;
	for (unsigned int i = 0; i < w->nthresholds && s->nthresholds < CVM_SIM_THRESHOLDS; i++)
		if (w->thresholds[i] != w->threshold)
			s->thresholds[s->nthresholds++] = w->thresholds[i];
	qsort(s->thresholds + 1, s->nthresholds - 1, sizeof(uint64_t), compare_u64);
}

static double pct(double part, double whole)
{
	return whole > 0 ? 100.0 * part / whole : 0.0;
}

static int collect_vms(struct cvm_sim *s, struct cvm_sim_result *r)
{
	uint64_t end = s->end;
	r->nvms = s->nvms;
	r->vms = calloc(s->nvms, sizeof(*r->vms));
	if (!r->vms)
		return -ENOMEM;
	for (unsigned int i = 0, copy = 0; i < s->nvms; i++) {
		const struct sim_vm *vm = &s->vms[i];
		struct cvm_sim_vm_result *x = &r->vms[i];
		copy = i && s->vms[i - 1].cfg == vm->cfg ? copy + 1 : 0;
		if (vm->cfg->count > 1)
			snprintf(x->name, sizeof(x->name), "%s.%u", vm->cfg->name, copy);
		else
			snprintf(x->name, sizeof(x->name), "%s", vm->cfg->name);
		x->vcpus = vm->nvcpus;
		x->protect = vm->cfg->smt_protect;
		x->workload = cvm_sim_workload_name(vm->cfg->workload.type);
		uint64_t g = 0, w = 0;
		for (unsigned int j = 0; j < vm->nvcpus; j++) {
			const struct sim_vcpu *v = &vm->vcpus[j];
			g += v->t_guest;
			w += v->t_wait;
			if (v->longest > x->longest_stretch)
				x->longest_stretch = v->longest;
		}
		x->stalls = vm->stalls;
		x->useful_pct = pct((double)g, (double)vm->nvcpus * (double)end);
		x->steal_pct = pct((double)w, (double)vm->nvcpus * (double)end);
		x->exits = vm->exits;
		x->idle_required = vm->idle_required;
		x->wake_latency_p50 = sim_hist_quantile(&vm->wake_latency, 0.5);
		x->wake_latency_p99 = sim_hist_quantile(&vm->wake_latency, 0.99);
		x->mwait_exits = vm->mwait_exits;
		x->vmm_work_done = vm->vmm_work_done;
		x->vmm_work_delay_p50 = sim_hist_quantile(&vm->vmm_delay, 0.5);
		x->vmm_work_delay_p99 = sim_hist_quantile(&vm->vmm_delay, 0.99);
		guest_collect_vm(vm, x);
	}
	return 0;
}

static int collect(struct cvm_sim *s, struct cvm_sim_result *r)
{
	uint64_t end = s->end;
	s->eng.now = end;
	for (unsigned int i = 0; i < s->ncpus; i++) {
		struct sim_cpu *c = &s->cpus[i];
		s->acct[c->acct] += end - c->acct_since;
		c->acct_since = end;
	}
	*r = (struct cvm_sim_result){0};
	snprintf(r->strategy, sizeof(r->strategy), "%s", s->ops->name);
	r->seed = s->opt.seed;
	r->duration = end;
	r->events = s->eng.popped;
	r->nvcpus = s->nvcpus;
	r->vcpu_longest = calloc(s->nvcpus ? s->nvcpus : 1, sizeof(uint64_t));
	if (!r->vcpu_longest)
		return -ENOMEM;
	uint64_t guest = 0, wait = 0;
	for (unsigned int i = 0; i < s->nvcpus; i++) {
		struct sim_vcpu *v = &s->vcpus[i];
		vcpu_acct(s, v);
		if (!v->quiescent)
			vcpu_set_quiescent(s, v, true); /* closes the open stretch */
		guest += v->t_guest;
		wait += v->t_wait;
		r->vcpu_longest[i] = v->longest;
		if (v->longest > r->longest_stretch)
			r->longest_stretch = v->longest;
	}
	double secs = (double)end / 1e9;
	double vcpu_time = (double)s->nvcpus * (double)end;
	double cpu_time = (double)s->ncpus * (double)end;
	r->idle_required = s->st.idle_required;
	r->hlt_wakeup_kicks = s->st.hlt_wakeups;
	r->idle_required_per_s = secs > 0 ? (double)s->st.idle_required / secs : 0;
	r->guest_useful_pct = pct((double)guest, vcpu_time);
	r->guest_steal_pct = pct((double)wait, vcpu_time);
	for (unsigned int i = 0; i < EXIT_NR; i++)
		r->exits += s->st.exits[i];
	r->entries = s->st.entries;
	r->entry_failures = s->st.entry_failures;
	r->stall_threshold = s->thresholds[0];
	r->stalls = s->stalls_at[0];
	r->nthresholds = s->nthresholds - 1;
	for (unsigned int k = 1; k < s->nthresholds; k++) {
		r->thresholds[k - 1] = s->thresholds[k];
		r->stalls_at[k - 1] = s->stalls_at[k];
	}
	r->noise_items = s->st.noise_items;
	r->noise_delay_p50 = sim_hist_quantile(&s->noise_delay, 0.5);
	r->noise_delay_p99 = sim_hist_quantile(&s->noise_delay, 0.99);
	r->noise_delay_max = s->noise_delay.max;
	r->capacity_lost_pct =
	        pct((double)(s->acct[ACCT_FORCED] + s->acct[ACCT_STRAT_OFF]), cpu_time);
	r->spin_pct = pct((double)s->acct[ACCT_VCPU_SPIN], cpu_time);
	r->lock_wait_max = s->st.lock_wait_max;
	r->host_hotplug_events = s->st.hp_events;
	r->replacements = s->st.replacements;
	r->quarantined = s->st.quarantined;
	r->ap_online_attempts = s->st.ap_attempts;
	r->aps_lost = s->st.aps_lost;
	r->ap_retries = s->st.ap_retries;
	r->mwait_exits = s->st.mwait_exits;
	r->vmm_work_done = s->st.vmm_work_done;
	r->vmm_work_delay_p99 = sim_hist_quantile(&s->vmm_delay, 0.99);
	r->wake_latency_p50 = sim_hist_quantile(&s->wake_latency, 0.5);
	r->wake_latency_p99 = sim_hist_quantile(&s->wake_latency, 0.99);
	r->sipis_sent = s->st.sipis_sent;
	r->inits_sent = s->st.inits_sent;
	guest_collect(s, r);
	return collect_vms(s, r);
}

int cvm_sim_run(const struct cvm_sim_scenario *sc, const struct cvm_sim_options *opt,
                struct cvm_sim_result *res)
{
	struct cvm_sim *s = calloc(1, sizeof(*s));
	if (!s) {
		cvm_err("sim", "out of memory");
		return -ENOMEM;
	}
	s->sc = sc;
	s->opt = *opt;
	s->end = opt->until ? opt->until : sc->duration;
	s->ops = strategies[opt->strategy < CVM_STRAT_NR ? opt->strategy : 0];
	cvm_rng_init(&s->hp_rng, opt->seed, UINT64_C(3) << 40);
	cvm_rng_init(&s->misc_rng, opt->seed, UINT64_C(4) << 40);
	set_thresholds(s);
	uint32_t ntimers = sc->host.ncpus * T_CPU_NR + sc->total_vcpus * T_VCPU_NR;
	int r = __cvm_sim_engine_init(&s->eng, 4096, ntimers);
	if (!r)
		r = build_host(s);
	if (!r)
		r = build_vms(s);
	if (!r && s->ops->init)
		r = s->ops->init(s);
	if (r == -ENOMEM)
		cvm_err("sim", "out of memory building the host");
	if (!r && (r = noise_init(s)) == -ENOMEM)
		cvm_err("sim", "out of memory building the noise sources");
	if (!r)
		r = place_init(s); /* reports its own errors */
	if (!r && (r = guest_init(s)) == -ENOMEM)
		cvm_err("sim", "out of memory building the guests");
	if (!r)
		r = hotplug_init(s);
	if (r) {
		free_all(s);
		return r;
	}
	if (sim_tracing(s))
		fprintf(s->opt.trace, "# corevm sim trace: scenario %s, strategy %s, seed %llu\n",
		        sc->name, s->ops->name, (unsigned long long)opt->seed);
	sim_at(s, s->end, EV_END, 0, 0, 0);
	struct cvm_sim_event ev;
	while (!s->err && cvm_sim_engine_pop(&s->eng, &ev)) {
		if (ev.kind == EV_END)
			break;
		dispatch(s, &ev);
		if (s->opt.hook)
			s->opt.hook(s, s->opt.hook_ctx);
	}
	r = s->err;
	if (!r && (r = collect(s, res)) == -ENOMEM)
		cvm_err("sim", "out of memory collecting the result");
	free_all(s);
	return r;
}

void cvm_sim_result_free(struct cvm_sim_result *r)
{
	free(r->vcpu_longest);
	free(r->vms);
	r->vcpu_longest = NULL;
	r->vms = NULL;
}

/* ---- inspection ---- */

unsigned int cvm_sim_ncpus(const struct cvm_sim *s)
{
	return s->ncpus;
}

enum cvm_sim_strategy_id cvm_sim_strategy(const struct cvm_sim *s)
{
	return s->opt.strategy;
}

uint64_t cvm_sim_now(const struct cvm_sim *s)
{
	return s->eng.now;
}

uint64_t cvm_sim_idle_required(const struct cvm_sim *s)
{
	return s->st.idle_required;
}

void cvm_sim_cpu_view(const struct cvm_sim *s, unsigned int cpu, struct cvm_sim_cpu_view *v)
{
	const struct sim_cpu *c = &s->cpus[cpu];
	*v = (struct cvm_sim_cpu_view){.core = c->core, .vcpu = -1};
	v->online = c->online;
	v->strategy_offline = c->strat_off;
	v->virt_ok = c->virt_ok;
	v->quarantined = place_quarantined(s, cpu);
	v->idle = !c->online || !cpu_busy(c);
	v->forced_idle = c->forced && !cpu_busy(c);
	v->noise = c->irq_active || c->kth_active;
	v->user_task = c->curr != NULL;
	if (c->curr && c->curr->kind == TASK_VCPU) {
		const struct sim_vcpu *x = c->curr->vcpu;
		v->vcpu = (int)x->gid;
		v->in_guest = vcpu_in_guest(x) && !c->irq_active && !c->kth_active;
		v->protected_vcpu = x->protect;
	}
	if (c->curr)
		v->cookie = c->curr->cookie;
}
