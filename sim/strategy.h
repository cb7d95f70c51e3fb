/* The pluggable SMT-protection strategy: an ops table with defaults in inline wrappers (Xen scheduler style). */
#ifndef COREVM_SIM_STRATEGY_H
#define COREVM_SIM_STRATEGY_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/sim_internal.h"

/* How a VM's vCPUs are placed (host/placement.h policies, chosen by the strategy). */
struct sim_place_choice {
	int policy;       /* enum cvm_place_policy */
	int cookies;      /* enum cvm_cookie_scope */
	bool avoid_hk;    /* keep the housekeeping CPUs' cores out of the VM's host CPUs */
	bool whole_cores; /* other VMs must keep off this VM's cores (smt-protect) */
};

/*
 * Every hook is optional; the wrappers below give the default (the "plain"
 * behaviour). Hooks run on the simulator's one thread; `s->strat` is the
 * strategy's private state (allocated by init, freed by fini).
 */
struct sim_strategy_ops {
	const char *name;
	int (*init)(struct cvm_sim *s);
	void (*fini)(struct cvm_sim *s);
	/* Placement for `vm` (default: none, floating). */
	void (*place)(const struct cvm_sim *s, const struct sim_vm *vm,
	              struct sim_place_choice *pc);
	/* The placement of the VMs is known: configure the host (steering, nohz_full...). */
	void (*placed)(struct cvm_sim *s);
	/* Whether user task t may run on c now (default: unless c is forced idle). */
	bool (*may_run)(const struct cvm_sim *s, const struct sim_cpu *c, const struct sim_task *t);
	/* Whether noise item `it` arriving for c must wait (deferred) (default: no). */
	bool (*defer)(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it);
	/* The CPU an arrival of source `src` aimed at `cpu` is steered to (default: cpu). */
	int (*steer)(struct cvm_sim *s, unsigned int src, int cpu);
	/* Whether host task t may ever use c (default: yes); partition keeps them off protected cores. */
	bool (*host_task_allowed)(const struct cvm_sim *s, const struct sim_cpu *c);
	/* Protected v finds busy siblings at VMRUN: VM_SPIN (retry, default) or VM_WAIT. */
	enum sim_vmode (*blocked_entry)(struct cvm_sim *s, struct sim_vcpu *v);
	/* v is about to enter: return false when the strategy has started work and will call
	 * vcpu_strategy_done() later (default: true). */
	bool (*before_entry)(struct cvm_sim *s, struct sim_vcpu *v);
	/* v finished an exit: same convention (default: true). */
	bool (*after_exit)(struct cvm_sim *s, struct sim_vcpu *v);
	/* v's thread became / stopped being its CPU's current task. */
	void (*vcpu_on)(struct cvm_sim *s, struct sim_vcpu *v);
	void (*vcpu_off)(struct cvm_sim *s, struct sim_vcpu *v);
	/* Whether the host tick is stopped on busy c (default: nohz_full CPUs running one task). */
	bool (*tick_stopped)(const struct cvm_sim *s, const struct sim_cpu *c);
	/* c's EV_DEFER timer fired. */
	void (*defer_event)(struct cvm_sim *s, struct sim_cpu *c);
	/* c's current task's slice ended; return true when it must yield even with no waiting task. */
	bool (*slice_yield)(struct cvm_sim *s, struct sim_cpu *c);
	/* A VM_HOTPLUG segment of v ended. */
	void (*hotplug_done)(struct cvm_sim *s, struct sim_vcpu *v);
	/* c came online (before it takes any work). */
	void (*cpu_online)(struct cvm_sim *s, struct sim_cpu *c);
};

extern const struct sim_strategy_ops sim_strategy_plain;
extern const struct sim_strategy_ops sim_strategy_core_cookie;
extern const struct sim_strategy_ops sim_strategy_sibling_offline;
extern const struct sim_strategy_ops sim_strategy_gang;
extern const struct sim_strategy_ops sim_strategy_partition;

const struct sim_strategy_ops *sim_strategy_ops_of(enum cvm_sim_strategy_id id);

/* Placement shared by core-cookie and gang (strategy_core_cookie.c). */
void sim_place_cookie_per_vcpu(const struct cvm_sim *s, const struct sim_vm *vm,
                               struct sim_place_choice *pc);

/* Gang scheduling helpers (strategy_gang.c), shared with partition. */
void gang_force(struct cvm_sim *s, struct sim_vcpu *v, bool reclaim);
void gang_release(struct cvm_sim *s, struct sim_vcpu *v);
bool gang_has_deferred(struct cvm_sim *s, struct sim_vcpu *v);
void gang_drain(struct cvm_sim *s, struct sim_vcpu *v);
void gang_vcpu_on(struct cvm_sim *s, struct sim_vcpu *v);
void gang_vcpu_off(struct cvm_sim *s, struct sim_vcpu *v);
bool gang_before_entry(struct cvm_sim *s, struct sim_vcpu *v);
enum sim_vmode gang_blocked_entry(struct cvm_sim *s, struct sim_vcpu *v);
bool gang_defer_item(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it);
bool gang_slice_yield(struct cvm_sim *s, struct sim_cpu *c);
void gang_cpu_online(struct cvm_sim *s, struct sim_cpu *c);

/* v's strategy work (a hotplug op) is done: the entry or exit path goes on. */
void vcpu_strategy_done(struct cvm_sim *s, struct sim_vcpu *v);

static inline bool strat_may_run(const struct cvm_sim *s, const struct sim_cpu *c,
                                 const struct sim_task *t)
{
	if (s->ops->may_run)
		return s->ops->may_run(s, c, t);
	return !c->forced;
}

static inline bool strat_defer(struct cvm_sim *s, struct sim_cpu *c, const struct sim_item *it)
{
	return s->ops->defer ? s->ops->defer(s, c, it) : false;
}

static inline int strat_steer(struct cvm_sim *s, unsigned int src, int cpu)
{
	return s->ops->steer ? s->ops->steer(s, src, cpu) : cpu;
}

static inline bool strat_host_task_allowed(const struct cvm_sim *s, const struct sim_cpu *c)
{
	return s->ops->host_task_allowed ? s->ops->host_task_allowed(s, c) : true;
}

static inline enum sim_vmode strat_blocked_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	return s->ops->blocked_entry ? s->ops->blocked_entry(s, v) : VM_SPIN;
}

static inline bool strat_before_entry(struct cvm_sim *s, struct sim_vcpu *v)
{
	return s->ops->before_entry ? s->ops->before_entry(s, v) : true;
}

static inline bool strat_after_exit(struct cvm_sim *s, struct sim_vcpu *v)
{
	return s->ops->after_exit ? s->ops->after_exit(s, v) : true;
}

static inline void strat_vcpu_on(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (s->ops->vcpu_on)
		s->ops->vcpu_on(s, v);
}

static inline void strat_vcpu_off(struct cvm_sim *s, struct sim_vcpu *v)
{
	if (s->ops->vcpu_off)
		s->ops->vcpu_off(s, v);
}

/* The default: a nohz_full CPU stops its tick while it runs one task and nothing waits. */
static inline bool strat_tick_stopped(const struct cvm_sim *s, const struct sim_cpu *c)
{
	if (s->ops->tick_stopped)
		return s->ops->tick_stopped(s, c);
	return c->nohz_full && c->curr && !c->uq.n && !c->kth_active && !c->irq_active;
}

static inline void strat_cpu_online(struct cvm_sim *s, struct sim_cpu *c)
{
	if (s->ops->cpu_online)
		s->ops->cpu_online(s, c);
}

static inline bool strat_slice_yield(struct cvm_sim *s, struct sim_cpu *c)
{
	return s->ops->slice_yield ? s->ops->slice_yield(s, c) : false;
}

#endif
