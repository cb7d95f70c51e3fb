/* vCPU placement through the real host/placement.h and host/placer.h: one placer per VM, re-placed on host CPU hotplug. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/placement.h"
#include "host/placer.h"
#include "host/topology.h"
#include "sim/sim_internal.h"
#include "sim/strategy.h"
#include "util/log.h"
#include "util/parse.h"

/*
 * Each VM owns a placer (the same state machine the KVM backend runs) over its
 * own copy of the host topology. Placers know nothing of each other, so before
 * every call the simulator narrows the VM's host CPUs (the --host-cpus of its
 * request) to what other VMs do not own: the whole cores of smt-protect VMs,
 * and for "partition" the housekeeping CPUs' cores. VMs that own whole cores
 * are placed and re-placed first.
 */

/* Time a probe takes: create a throwaway vCPU pinned there and enter the guest once. */
#define PROBE_NS 100000u

struct sim_place {
	struct cvm_host_topology topo;
	struct cvm_placer pl;
	struct sim_place_choice choice;
	bool failed;
};

/* The CPUs VM `vm` may use now: all, minus other whole-core VMs' cores, minus housekeeping cores. */
static void allowed_for(struct cvm_sim *s, const struct sim_vm *vm, uint64_t *map)
{
	unsigned int n = s->ncpus;
	cvm_bitmap_zero(map, CVM_MAX_HOST_CPUS);
	cvm_bitmap_fill(map, n);
	for (unsigned int i = 0; i < s->nvms; i++) {
		const struct sim_vm *o = &s->vms[i];
		if (o == vm || !o->place || !o->place->choice.whole_cores || o->place->failed)
			continue;
		cvm_bitmap_andnot(map, map, o->place->pl.cur.vcpu_cpus, CVM_MAX_HOST_CPUS);
		cvm_bitmap_andnot(map, map, o->place->pl.cur.reserved, CVM_MAX_HOST_CPUS);
	}
	if (vm->place && vm->place->choice.avoid_hk) {
		for (unsigned int c = 0; c < n; c++) {
			if (!s->cpus[c].hk)
				continue;
			const uint32_t *cc = core_cpus(s, s->cpus[c].core);
			for (unsigned int t = 0; t < s->tpc; t++)
				cvm_bit_clear(map, cc[t]);
		}
	}
}

static void refresh(struct cvm_sim *s, struct sim_vm *vm)
{
	struct cvm_place_request *rq = &vm->place->pl.req;
	rq->host_cpus_given = true;
	allowed_for(s, vm, rq->host_cpus);
}

/* Gives vCPU i of vm its CPU set from the placement, and moves its thread if it must. */
static void apply_vcpu(struct cvm_sim *s, struct sim_vm *vm, unsigned int i)
{
	struct sim_vcpu *v = &vm->vcpus[i];
	struct sim_task *t = &v->task;
	const struct cvm_placement *cur = &vm->place->pl.cur;
	CVM_BITMAP(mask, CVM_MAX_HOST_CPUS);
	if (vm->place->failed)
		cvm_bitmap_zero(mask, CVM_MAX_HOST_CPUS);
	else
		cvm_placement_vcpu_mask(cur, i, mask);
	for (unsigned int w = 0; w < CVM_BITMAP_WORDS(s->ncpus); w++)
		t->allowed[w] = mask[w];
	if (s->ncpus % 64)
		t->allowed[s->ncpus / 64] &= (UINT64_C(1) << (s->ncpus % 64)) - 1;
	t->pinned = vm->place->failed ? -1 : cur->vcpu[i].cpu;
	t->cookie = cur->vcpu[i].cookie ? ((uint64_t)(vm->id + 1) << 32) | cur->vcpu[i].cookie : 0;
	if (sim_tracing(s)) {
		char list[256];
		if (cvm_format_cpulist(t->allowed, s->ncpus, list, sizeof(list)) < 0)
			snprintf(list, sizeof(list), "(long)");
		sim_trace(s, "vcpu%u placed: cpus %s%s", v->gid, list[0] ? list : "none",
		          t->pinned >= 0 ? " (pinned)" : "");
	}
	if (t->state == TS_BLOCKED) {
		if (!v->blocked)
			task_wake(s, t);
	} else {
		task_migrate_if_needed(s, t);
	}
}

static void schedule_probe(struct cvm_sim *s, unsigned int cpu)
{
	s->probe_gen[cpu]++;
	sim_arm(s, cpu_timer(s, cpu, T_PROBE), sim_now(s) + PROBE_NS, EV_PROBE, cpu,
	        s->probe_gen[cpu], 0);
}

static void apply(struct cvm_sim *s, struct sim_vm *vm, const struct cvm_placer_actions *act)
{
	if (act->vm_failed && !vm->place->failed) {
		vm->place->failed = true;
		cvm_warn("sim", "VM %s stops at t=%lluns: %s", vm->cfg->name,
		         (unsigned long long)sim_now(s), vm->place->pl.fail_msg);
		if (sim_tracing(s))
			sim_trace(s, "vm%u placement failed: %s", vm->id, vm->place->pl.fail_msg);
		for (unsigned int i = 0; i < vm->nvcpus; i++)
			apply_vcpu(s, vm, i);
		s->st.vms_failed++;
		return;
	}
	if (act->logged && sim_tracing(s)) {
		unsigned int k = cvm_placer_nr_events(&vm->place->pl);
		const struct cvm_place_event *e = cvm_placer_event(&vm->place->pl, k - 1);
		sim_trace(s, "vm%u placement: %s", vm->id, e->note);
	}
	if (!cvm_bitmap_empty(act->reaffine, CVM_MAX_VCPUS))
		s->st.replacements++;
	unsigned int i;
	cvm_bitmap_for_each(i, act->reaffine, vm->nvcpus)
	{
		apply_vcpu(s, vm, i);
	}
	if (act->probe_cpu >= 0 && s->probe_gen[act->probe_cpu] == s->probe_done[act->probe_cpu])
		schedule_probe(s, (unsigned int)act->probe_cpu);
}

/* VMs that own whole cores first, each group in index order. */
static struct sim_vm *nth_vm(struct cvm_sim *s, unsigned int k)
{
	for (unsigned int pass = 0; pass < 2; pass++)
		for (unsigned int i = 0; i < s->nvms; i++) {
			struct sim_place_choice pc = {0};
			s->ops->place(s, &s->vms[i], &pc);
			if (pc.whole_cores == (pass == 0) && !k--)
				return &s->vms[i];
		}
	return NULL;
}

static void placed(struct cvm_sim *s)
{
	if (s->ops->placed)
		s->ops->placed(s);
}

int place_init(struct cvm_sim *s)
{
	const struct cvm_sim_host *h = &s->sc->host;
	s->probe_gen = calloc(s->ncpus, sizeof(uint32_t));
	s->probe_done = calloc(s->ncpus, sizeof(uint32_t));
	struct cvm_host_topology *topo = calloc(1, sizeof(*topo));
	if (!topo || !s->probe_gen || !s->probe_done) {
		free(topo);
		cvm_err("sim", "out of memory building the host topology");
		return -ENOMEM;
	}
	int r = cvm_topology_synth(topo, h->sockets, h->cores_per_socket, h->threads_per_core);
	if (r || topo->nr_cores != s->ncores) {
		cvm_err("sim", "%s: host topology %ux%ux%u: cannot be built", s->sc->path,
		        h->sockets, h->cores_per_socket, h->threads_per_core);
		free(topo);
		return r ? r : -EINVAL;
	}
	for (unsigned int k = 0; k < topo->nr_cores; k++) {
		for (unsigned int t = 0; t < s->tpc; t++) {
			unsigned int cpu = topo->core[k].cpus[t];
			s->core_cpus[k * s->tpc + t] = cpu;
			s->cpus[cpu].core = k;
			s->cpus[cpu].thread = t;
		}
	}
	for (unsigned int k = 0; k < s->nvms; k++) {
		struct sim_vm *vm = nth_vm(s, k);
		struct sim_place *p = calloc(1, sizeof(*p));
		if (!p) {
			cvm_err("sim", "out of memory placing VM %s", vm->cfg->name);
			r = -ENOMEM;
			break;
		}
		memcpy(&p->topo, topo, sizeof(*topo));
		s->ops->place(s, vm, &p->choice);
		vm->place = p;
		struct cvm_place_request rq;
		cvm_place_request_init(&rq, (enum cvm_place_policy)p->choice.policy, vm->nvcpus);
		rq.cookies = (enum cvm_cookie_scope)p->choice.cookies;
		rq.fallback = CVM_FALLBACK_NONE;
		rq.cookie_support = 0;
		rq.host_cpus_given = true;
		allowed_for(s, vm, rq.host_cpus);
		char err[CVM_PLACE_ERR_LEN];
		r = cvm_placer_init(&p->pl, &p->topo, &rq, 16, 0, err, sizeof(err));
		if (r) {
			cvm_err("sim", "%s: VM %s under strategy %s: %s", s->sc->path,
			        vm->cfg->name, s->ops->name, err);
			break;
		}
		for (unsigned int i = 0; i < vm->nvcpus; i++)
			apply_vcpu(s, vm, i);
	}
	free(topo);
	if (!r)
		placed(s);
	return r;
}

void place_fini(struct cvm_sim *s)
{
	for (unsigned int i = 0; s->vms && i < s->nvms; i++) {
		free(s->vms[i].place);
		s->vms[i].place = NULL;
	}
	free(s->probe_gen);
	free(s->probe_done);
	s->probe_gen = s->probe_done = NULL;
}

typedef int placer_event_fn(struct cvm_placer *pl, unsigned int cpu, uint64_t now_ns,
                            struct cvm_placer_actions *act);

/* Tells every VM's placer (whole-core VMs first) about `cpu` and carries out what each asks. */
static void each_placer(struct cvm_sim *s, unsigned int cpu, placer_event_fn *fn)
{
	for (unsigned int k = 0; k < s->nvms; k++) {
		struct sim_vm *vm = nth_vm(s, k);
		struct cvm_placer_actions act;
		refresh(s, vm);
		fn(&vm->place->pl, cpu, sim_now(s), &act);
		apply(s, vm, &act);
	}
	placed(s);
}

void place_cpu_offline(struct cvm_sim *s, unsigned int cpu)
{
	each_placer(s, cpu, cvm_placer_cpu_offline);
}

void place_cpu_online(struct cvm_sim *s, unsigned int cpu)
{
	each_placer(s, cpu, cvm_placer_cpu_online);
}

void place_probe_event(struct cvm_sim *s, unsigned int cpu, uint32_t gen)
{
	if (gen != s->probe_gen[cpu])
		return;
	s->probe_done[cpu] = gen;
	const struct sim_cpu *c = &s->cpus[cpu];
	/* Without probing, the VMM takes every CPU that comes online on trust. */
	bool pass = c->virt_ok || !s->sc->host.hotplug.probe;
	if (sim_tracing(s))
		sim_trace(s, "cpu%u probe %s", cpu, pass ? "passed" : "failed: entry refused");
	if (!pass)
		s->st.quarantined++;
	for (unsigned int k = 0; k < s->nvms; k++) {
		struct sim_vm *vm = nth_vm(s, k);
		uint64_t token = vm->place->pl.probe_token[cpu];
		if (!token || !c->online)
			continue;
		struct cvm_placer_actions act;
		refresh(s, vm);
		cvm_placer_probe_done(
		        &vm->place->pl, cpu, token, pass ? CVM_PROBE_PASS : CVM_PROBE_FAIL,
		        pass ? NULL : "VMRUN failed: virtualization not enabled", sim_now(s), &act);
		apply(s, vm, &act);
	}
	placed(s);
}

void place_entry_failed(struct cvm_sim *s, struct sim_vcpu *v, unsigned int cpu)
{
	struct sim_vm *vm = v->vm;
	struct cvm_placer_actions act;
	if (!cvm_bit_test(vm->place->pl.quarantined, cpu))
		s->st.quarantined++;
	refresh(s, vm);
	cvm_placer_entry_failure(&vm->place->pl, v->idx, (int)cpu,
	                         "VMRUN failed: virtualization not enabled", sim_now(s), &act);
	apply(s, vm, &act);
	placed(s);
}

bool place_quarantined(const struct cvm_sim *s, unsigned int cpu)
{
	for (unsigned int i = 0; i < s->nvms; i++)
		if (s->vms[i].place && cvm_bit_test(s->vms[i].place->pl.quarantined, cpu))
			return true;
	return false;
}
