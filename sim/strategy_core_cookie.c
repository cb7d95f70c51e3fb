/* Strategy "core-cookie" (seed 000, approach 1): a core-scheduling cookie per vCPU; noise ignores cookies. */
#include "host/placement.h"
#include "sim/strategy.h"

/*
 * Tasks with different cookies never share a core: a CPU whose siblings run
 * tasks of another cookie leaves its own waiting tasks alone (forced idle,
 * c->cookie_idle), and the sibling's task yields at the end of its slice so the
 * waiting cookie gets its turn (sched.c). Interrupts, softirqs and kernel
 * threads are not tasks with cookies: they run wherever they land, which is
 * why IDLE_REQUIRED exits remain (the seed's complaint). A protected vCPU that
 * finds its sibling busy at VMRUN retries in a loop (KVM's behaviour).
 */
/* Protected VMs float with a cookie per vCPU; the others float with none (gang places the same way). */
void sim_place_cookie_per_vcpu(const struct cvm_sim *s, const struct sim_vm *vm,
                               struct sim_place_choice *pc)
{
	if (vm->cfg->smt_protect) {
		pc->policy = CVM_PLACE_CORE_SCHED;
		pc->cookies = CVM_COOKIE_VCPU;
	} else {
		pc->policy = CVM_PLACE_NONE;
		pc->cookies = CVM_COOKIE_OFF;
	}
}

static bool may_run(const struct cvm_sim *s, const struct sim_cpu *c, const struct sim_task *t)
{
	if (c->forced)
		return false;
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		const struct sim_task *u = s->cpus[cc[i]].curr;
		if (u && u != t && cc[i] != c->id && u->cookie != t->cookie)
			return false;
	}
	return true;
}

const struct sim_strategy_ops sim_strategy_core_cookie = {
        .name = "core-cookie",
        .place = sim_place_cookie_per_vcpu,
        .may_run = may_run,
};
