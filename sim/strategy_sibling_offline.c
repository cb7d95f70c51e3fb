/* Strategy "sibling-offline" (seed 000, approach 2): offline the SMT sibling before each guest entry, online it after the exit. */
#include "host/placement.h"
#include "sim/strategy.h"

/*
 * Every entry of a protected vCPU takes the host's one CPU-hotplug lock
 * (cpu_add_remove_lock), offlines the other threads of its core, and enters;
 * every exit takes the lock again and onlines them. Each operation waits for
 * the lock (FIFO), holds it `lock_hold` and lasts at least `hotplug_latency`.
 * The lock is global, so protected vCPUs serialize on it: the lock contention
 * the seed reports ("BUG: scheduling while atomic" with four locks held) shows
 * here as lock waits and lost guest time. vCPUs are placed on whole cores
 * (smt-protect) so that no vCPU offlines another's CPU.
 */

enum {
	HP_NONE,
	HP_OFFLINE,
	HP_ONLINE,
};

static void place(const struct cvm_sim *s, const struct sim_vm *vm, struct sim_place_choice *pc)
{
	if (vm->cfg->smt_protect) {
		pc->policy = CVM_PLACE_SMT_PROTECT;
		pc->cookies = CVM_COOKIE_VCPU;
		pc->whole_cores = true;
	} else {
		pc->policy = CVM_PLACE_NONE;
		pc->cookies = CVM_COOKIE_OFF;
	}
}

/* Starts one hotplug operation of v's siblings: wait for the lock, hold it, wait for the CPUs. */
static void start_op(struct cvm_sim *s, struct sim_vcpu *v, uint8_t op)
{
	const struct cvm_sim_strategy_params *p = &s->sc->params;
	uint64_t now = sim_now(s);
	uint64_t grant = s->lock_free_at > now ? s->lock_free_at : now;
	s->lock_free_at = grant + p->lock_hold;
	if (grant - now > s->st.lock_wait_max)
		s->st.lock_wait_max = grant - now;
	uint64_t len = p->hotplug_latency > p->lock_hold ? p->hotplug_latency : p->lock_hold;
	v->hp_op = op;
	vcpu_set_mode(s, v, VM_HOTPLUG, grant - now + len);
}

static bool siblings_offline(struct cvm_sim *s, struct sim_vcpu *v)
{
	const struct sim_cpu *c = &s->cpus[v->task.cpu];
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++)
		if (cc[i] != c->id && s->cpus[cc[i]].online)
			return false;
	return true;
}

static bool before_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (!v->protect || siblings_offline(s, v))
		return true;
	start_op(s, v, HP_OFFLINE);
	return false;
}

static bool after_exit(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (!v->hp_offlined)
		return true;
	start_op(s, v, HP_ONLINE);
	return false;
}

static void set_siblings(struct cvm_sim *s, struct sim_vcpu *v, bool online)
{
	const struct sim_cpu *c = &s->cpus[v->task.cpu];
	const uint32_t *cc = core_cpus(s, c->core);
	for (unsigned int i = 0; i < s->tpc; i++) {
		struct sim_cpu *sb = &s->cpus[cc[i]];
		if (sb == c)
			continue;
		if (online && sb->strat_off)
			cpu_set_online(s, sb, true);
		else if (!online && sb->online)
			cpu_set_offline(s, sb, true);
	}
	v->hp_offlined = !online;
}

static void hotplug_done(struct cvm_sim *s, struct sim_vcpu *v)
{
	uint8_t op = v->hp_op;
	v->hp_op = HP_NONE;
	set_siblings(s, v, op == HP_ONLINE);
	if (sim_tracing(s))
		sim_trace(s, "vcpu%u sibling %s", v->gid, op == HP_ONLINE ? "online" : "offline");
	vcpu_strategy_done(s, v);
}

/* A thread leaving its CPU with the sibling still offline gives it back at once. */
static void vcpu_off(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (v->hp_offlined)
		set_siblings(s, v, true);
	if (v->hp_op != HP_NONE) {
		/* the operation is abandoned; the entry or exit path restarts in VM_HOST */
		v->hp_op = HP_NONE;
		v->hp_next = 0;
		v->mode = VM_HOST;
		v->seg_left = 0;
	}
}

static enum sim_vmode blocked_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	return VM_WAIT;
}

const struct sim_strategy_ops sim_strategy_sibling_offline = {
        .name = "sibling-offline",
        .place = place,
        .before_entry = before_entry,
        .after_exit = after_exit,
        .hotplug_done = hotplug_done,
        .vcpu_off = vcpu_off,
        .blocked_entry = blocked_entry,
};
