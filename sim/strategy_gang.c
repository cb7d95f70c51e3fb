/* Strategy "gang" (seed 000, approach 3): co-schedule a forced idle on the siblings while a protected vCPU's thread runs. */
#include "host/placement.h"
#include "sim/strategy.h"

/*
 * The vCPU thread and forced idles on the other threads of its core are
 * scheduled as one unit. While the unit runs, the siblings run no task (tasks
 * there are moved away), kernel-thread work and softirq bottom halves aimed
 * at them are deferred; hard interrupts still arrive (the hardware kicks the
 * vCPU out with HLT_WAKEUP_ICR first). The unit waits for idle siblings
 * instead of retrying VMRUN, so gang takes no IDLE_REQUIRED exits. Deferred
 * work waits until the unit stops (the vCPU blocks or is descheduled) or its
 * time slice ends, when the unit lets the siblings drain and then resumes.
 */

#define for_each_sibling(s, c, sb)                     \
	for (unsigned int i_ = 0; i_ < (s)->tpc; i_++) \
		if (((sb) = &(s)->cpus[core_cpus((s), (c)->core)[i_]]) != (c))

void gang_force(struct cvm_sim *s, struct sim_vcpu *v, bool reclaim)
{
	struct sim_cpu *c = &s->cpus[v->task.cpu], *sb;
	for_each_sibling(s, c, sb)
	{
		if (!sb->online)
			continue;
		bool fresh = sb->forced_by != v;
		if (fresh) {
			sb->forced = true;
			sb->forced_by = v;
			if (sb->curr)
				task_evict(s, sb->curr);
		}
		/* kernel-thread work there waits; on reclaim also the work a drain let run */
		if (fresh || reclaim)
			cpu_defer_kthreads(s, sb);
		cpu_acct(s, sb);
	}
}

void gang_release(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = &s->cpus[v->task.cpu], *sb;
	for_each_sibling(s, c, sb)
	{
		if (sb->forced_by != v)
			continue;
		sb->forced = false;
		sb->forced_by = NULL;
		cpu_acct(s, sb);
		cpu_release_deferred(s, sb);
		cpu_reschedule(s, sb);
	}
}

bool gang_has_deferred(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = &s->cpus[v->task.cpu], *sb;
	for_each_sibling(s, c, sb)
	{
		if (sb->forced_by == v && sb->deferred.n)
			return true;
	}
	return false;
}

void gang_drain(struct cvm_sim *s, struct sim_vcpu *v)
{
	struct sim_cpu *c = &s->cpus[v->task.cpu], *sb;
	/* out of the guest first: the siblings leaving idle must not find it inside */
	vcpu_force_exit(s, v, EXIT_PREEMPT);
	for_each_sibling(s, c, sb)
	{
		if (sb->forced_by != v || !sb->deferred.n)
			continue;
		sb->draining = true;
		cpu_release_deferred(s, sb);
		sb->draining = false;
	}
	if (sim_tracing(s))
		sim_trace(s, "vcpu%u lets its siblings drain deferred work", v->gid);
}

void gang_vcpu_on(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->protect)
		gang_force(s, v, false);
}

void gang_vcpu_off(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->protect)
		gang_release(s, v);
}

bool gang_before_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->protect)
		gang_force(s, v, false);
	return true;
}

enum sim_vmode gang_blocked_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	return VM_WAIT;
}

/* A CPU that comes online beside a running protected vCPU joins its forced idle at once. */
void gang_cpu_online(struct cvm_sim *s, struct sim_cpu *c)
{
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_task *t = s->cpus[cc[i]].curr;
		if (cc[i] != c->id && t && t->kind == TASK_VCPU && t->vcpu->protect)
			gang_force(s, t->vcpu, false);
	}
}

bool gang_defer_item(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it)
{
	return c->forced && !c->draining;
}

static bool defer(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it)
{
	if (!gang_defer_item(s, c, it))
		return false;
	/* the unit keeps the core for the rest of its slice, then lets the siblings drain */
	struct sim_vcpu *v = c->forced_by;
	if (v && v->task.state == TS_CURRENT) {
		struct sim_cpu *vc = &s->cpus[v->task.cpu];
		cpu_arm_slice(s, vc, vc->slice_start + s->sc->host.timeslice);
	}
	return true;
}

/*
 * The unit and its siblings' pending work share the core a slice each: at the
 * end of the unit's slice the siblings drain; after a slice of draining the
 * unit takes the core back (a kernel thread still running there is deferred
 * again, interrupts finish first).
 */
bool gang_slice_yield(struct cvm_sim *s, struct sim_cpu *c)
{
	if (!c->curr || c->curr->kind != TASK_VCPU || !c->curr->vcpu->protect)
		return false;
	struct sim_vcpu *v = c->curr->vcpu;
	uint64_t next = sim_now(s) + s->sc->host.timeslice;
	c->slice_start = sim_now(s);
	if (v->mode == VM_WAIT) {
		gang_force(s, v, true);
		if (gang_has_deferred(s, v))
			cpu_arm_slice(s, c, next);
	} else if (gang_has_deferred(s, v)) {
		gang_drain(s, v);
		cpu_arm_slice(s, c, next);
	}
	return false;
}

const struct sim_strategy_ops sim_strategy_gang = {
        .name = "gang",
        .place = sim_place_cookie_per_vcpu,
        .defer = defer,
        .vcpu_on = gang_vcpu_on,
        .vcpu_off = gang_vcpu_off,
        .before_entry = gang_before_entry,
        .blocked_entry = gang_blocked_entry,
        .slice_yield = gang_slice_yield,
        .cpu_online = gang_cpu_online,
};
