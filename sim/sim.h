/* corevm sim: run a scenario on a simulated virtualization host under one strategy and collect its metrics. */
#ifndef COREVM_SIM_SIM_H
#define COREVM_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/counters.h"
#include "sim/scenario.h"

struct cvm_sim;

/* The strategies, in the order --compare prints them. */
enum cvm_sim_strategy_id {
	CVM_STRAT_PLAIN,
	CVM_STRAT_CORE_COOKIE,
	CVM_STRAT_SIBLING_OFFLINE,
	CVM_STRAT_GANG,
	CVM_STRAT_PARTITION,
	CVM_STRAT_NR
};

const char *cvm_sim_strategy_name(enum cvm_sim_strategy_id id);
/* Returns 0 and sets *id, or -EINVAL for an unknown name. */
int cvm_sim_strategy_parse(const char *name, enum cvm_sim_strategy_id *id);

/* Called after every event with the simulator in a consistent state (tests check invariants). */
typedef void cvm_sim_hook_fn(const struct cvm_sim *sim, void *ctx);

struct cvm_sim_options {
	uint64_t seed;  /* the run's seed (the scenario's unless the caller overrides it) */
	uint64_t until; /* virtual time to stop at, ns (0: the scenario's duration) */
	enum cvm_sim_strategy_id strategy;
	FILE *trace;           /* NULL: no trace; else one line per state change */
	cvm_sim_hook_fn *hook; /* NULL, or called after every event */
	void *hook_ctx;
};

/* Longest-stretch thresholds reported, besides the scenario's main one. */
#define CVM_SIM_THRESHOLDS 9

/* What one VM saw (the scenario's VMs with `count` copies expanded, in order). */
struct cvm_sim_vm_result {
	char name[40];
	unsigned int vcpus;
	bool protect;
	const char *workload; /* static string */
	double useful_pct;    /* useful guest time / (its vCPUs x duration) */
	double steal_pct;     /* runnable but not in guest mode */
	uint64_t longest_stretch;
	uint64_t stalls; /* over the watchdog threshold */
	uint64_t exits;
	uint64_t idle_required;
	uint64_t wake_latency_p50, wake_latency_p99;
	uint64_t mwait_exits;
	uint64_t vmm_work_done, vmm_work_delay_p50, vmm_work_delay_p99;
	/* Lifecycle counters as `corevm run --stats` reports them per vCPU (docs/stats.md),
	 * summed over the VM's vCPUs: the core's own (core/counters.h), IPI messages its
	 * vCPUs sent (ICR writes, any delivery mode) and received (one per target, any
	 * outcome). */
	uint64_t lc[CVM_CTR_NR];
	uint64_t ipis_sent, ipis_received;
};

/* Everything a run measured. Plain data; the arrays are owned by the result. */
struct cvm_sim_result {
	char strategy[24];
	uint64_t seed;
	uint64_t duration;   /* virtual ns simulated */
	uint64_t events;     /* events handled */
	double wall_seconds; /* filled by the caller that timed the run, else 0 */
	/* SMT protection */
	uint64_t idle_required;    /* IDLE_REQUIRED exits */
	uint64_t hlt_wakeup_kicks; /* HLT_WAKEUP_ICR kicks */
	double idle_required_per_s;
	/* guests */
	double guest_useful_pct; /* useful guest time / (vCPUs x duration) */
	double guest_steal_pct;  /* time vCPUs wanted to run but were not in guest mode */
	uint64_t exits;
	uint64_t entries;
	uint64_t entry_failures; /* guest entries refused on a CPU without virtualization */
	/* watchdog */
	uint64_t stall_threshold;
	uint64_t stalls; /* stretches without progress longer than stall_threshold */
	unsigned int nthresholds;
	uint64_t thresholds[CVM_SIM_THRESHOLDS];
	uint64_t stalls_at[CVM_SIM_THRESHOLDS];
	uint64_t longest_stretch; /* over all vCPUs */
	unsigned int nvcpus;
	uint64_t *vcpu_longest; /* per vCPU */
	/* host */
	uint64_t noise_items;
	uint64_t noise_delay_p50, noise_delay_p99, noise_delay_max;
	double capacity_lost_pct; /* forced idle + CPUs offlined by the strategy */
	double spin_pct;          /* CPU time spent retrying entries and waiting for siblings */
	uint64_t lock_wait_max;   /* sibling-offline: longest wait for the hotplug lock */
	uint64_t host_hotplug_events;
	uint64_t replacements; /* placement changes after host CPU hotplug */
	uint64_t quarantined;  /* CPUs quarantined (probe or entry failure) */
	/* lifecycle (from the core's counters, summed over vCPUs) */
	uint64_t sipis_sent, sipis_accepted, sipis_discarded, inits_sent, smis;
	uint64_t ipis_delivered, halts, intr_injected;
	uint64_t ap_online_attempts, aps_lost, ap_retries;
	uint64_t mwait_exits, vmm_work_done;
	uint64_t vmm_work_delay_p99;
	uint64_t wake_latency_p50,
	        wake_latency_p99; /* interrupt for a halted vCPU to guest entry */
	unsigned int nvms;
	struct cvm_sim_vm_result *vms;
};

void cvm_sim_result_free(struct cvm_sim_result *r);

/*
 * Runs `sc` under `opt`. Returns 0 with `*res` filled (free it with
 * cvm_sim_result_free), or a negative errno after one line naming the problem
 * (e.g. a placement the host cannot satisfy). Same scenario, seed and strategy:
 * byte-identical trace and identical result.
 */
int cvm_sim_run(const struct cvm_sim_scenario *sc, const struct cvm_sim_options *opt,
                struct cvm_sim_result *res);

/* ---- Inspection, for hooks (tests) ---- */

/* One host CPU as the hook sees it. */
struct cvm_sim_cpu_view {
	unsigned int core;     /* index of its physical core */
	bool online;           /* online for the host (not offlined by hotplug or the strategy) */
	bool strategy_offline; /* offlined by sibling-offline */
	bool virt_ok;          /* virtualization enabled on it */
	bool quarantined;      /* some VM's placement quarantined it */
	bool idle;             /* executing nothing (hardware idle: HLT / C-state / offline) */
	bool forced_idle;      /* kept idle by the strategy */
	bool noise;            /* an interrupt or a noise kernel thread runs */
	int vcpu;              /* global index of the vCPU whose thread runs here, else -1 */
	bool in_guest;         /* ... and it is entering or in guest mode */
	bool protected_vcpu;   /* ... and its VM demands SMT protection */
	bool user_task;  /* a user task (vCPU thread or host task) is current (maybe covered) */
	uint64_t cookie; /* its core-scheduling cookie (0: none) */
};

unsigned int cvm_sim_ncpus(const struct cvm_sim *sim);
void cvm_sim_cpu_view(const struct cvm_sim *sim, unsigned int cpu, struct cvm_sim_cpu_view *v);
enum cvm_sim_strategy_id cvm_sim_strategy(const struct cvm_sim *sim);
uint64_t cvm_sim_now(const struct cvm_sim *sim);
uint64_t cvm_sim_idle_required(const struct cvm_sim *sim);

#endif
