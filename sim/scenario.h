/* A simulator scenario: the host, its noise and hotplug, the VMs and their workloads, as read from JSON. */
#ifndef COREVM_SIM_SCENARIO_H
#define COREVM_SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/costs.h"
#include "sim/dist.h"

/* Limits a scenario must respect (each breach is a named error when loading). */
#define CVM_SIM_MAX_CPUS      1024u
#define CVM_SIM_MAX_VCPUS     8192u
#define CVM_SIM_MAX_VM_VCPUS  1024u
#define CVM_SIM_MAX_THREADS   8u
#define CVM_SIM_MAX_LIST      64u
#define CVM_SIM_MAX_NAME      32u
#define CVM_SIM_MAX_TOLERANCE 16u

/*
 * Host noise. Every source has a CPU set (its interrupt affinity, or the CPUs a
 * kernel thread may run on), an arrival process and a duration distribution.
 *   irq      a hard interrupt: runs at once on the CPU it lands on, preempting
 *            whatever runs there (a guest exits first);
 *   softirq  a hard interrupt (`hardirq` ns) whose bottom half (the duration) runs
 *            right after it on the same CPU; strategies may defer the bottom half;
 *   kthread  a kernel thread woken on a CPU: preempts user tasks (vCPU threads
 *            included) and runs to completion; an unbound one (`per_cpu` false)
 *            runs on the first idle CPU of its set, else where it was woken.
 * `per_cpu` true: an independent arrival process on each CPU of the set (rate is
 * per CPU); false: one process whose arrivals land on a uniformly chosen CPU of the
 * set. `steerable`: the affinity may be changed by a strategy (device interrupts,
 * unbound workers), unlike per-CPU timers and per-CPU kernel threads.
 */
enum cvm_sim_noise_kind {
	CVM_NOISE_IRQ,
	CVM_NOISE_SOFTIRQ,
	CVM_NOISE_KTHREAD,
};

struct cvm_sim_noise_src {
	char name[CVM_SIM_MAX_NAME];
	enum cvm_sim_noise_kind kind;
	uint64_t *cpus; /* bitmap of ncpus bits, owned by the scenario */
	bool per_cpu;
	bool steerable;
	struct cvm_sim_arrival arrival;
	struct cvm_sim_dist duration;
	uint64_t hardirq_ns;
};

/* Ordinary host user tasks (not vCPUs): `count` tasks alternating run and sleep. */
struct cvm_sim_task_src {
	char name[CVM_SIM_MAX_NAME];
	unsigned int count;
	uint64_t *cpus;
	struct cvm_sim_dist run;
	struct cvm_sim_dist sleep;
};

enum cvm_sim_hp_op {
	CVM_HP_OFFLINE,
	CVM_HP_ONLINE,
};

struct cvm_sim_hp_event {
	uint64_t at;
	unsigned int cpu;
	enum cvm_sim_hp_op op;
};

struct cvm_sim_hotplug {
	struct cvm_sim_hp_event events[CVM_SIM_MAX_LIST];
	unsigned int nevents;
	/* Random offline/online cycles: CPUs drawn from `cpus`, `rate` cycles per second
	 * over the whole set, each CPU staying offline for a `down` draw. */
	uint64_t *random_cpus;
	double random_rate;
	struct cvm_sim_dist random_down;
	/* Per-CPU probability that enabling virtualization fails when the CPU comes online. */
	double *enable_fail; /* ncpus entries */
	/* Whether the VMM probes a CPU (one throwaway guest entry) before admitting it. */
	bool probe;
};

struct cvm_sim_host {
	unsigned int sockets;
	unsigned int cores_per_socket;
	unsigned int threads_per_core;
	unsigned int ncpus;
	uint64_t *housekeeping;
	uint64_t *nohz_full;
	unsigned int tick_hz;
	uint64_t tick_cost;
	uint64_t timeslice;
	struct cvm_sim_noise_src noise[CVM_SIM_MAX_LIST];
	unsigned int nnoise;
	struct cvm_sim_task_src tasks[CVM_SIM_MAX_LIST];
	unsigned int ntasks;
	struct cvm_sim_hotplug hotplug;
};

/* Guest workloads: what each vCPU of a VM runs, through the real core (see docs/sim.md). */
enum cvm_sim_workload_type {
	CVM_WL_CPU_BOUND,    /* always computing; a periodic LAPIC timer tick */
	CVM_WL_TIMER,        /* periodic LAPIC timer; work after each tick, HLT in between */
	CVM_WL_HLT_IDLE,     /* HLT until a device interrupt, then a busy burst */
	CVM_WL_IPI_PINGPONG, /* vCPU pairs bounce a fixed IPI; HLT while waiting */
	CVM_WL_MWAIT_IDLE,   /* like hlt-idle but idling in MWAIT under an --mwait policy */
	CVM_WL_CPU_HOTPLUG,  /* the BSP offlines/onlines APs with INIT-SIPI(-SIPI); SMIs race */
	CVM_WL_INIT_SIPI, /* the BSP restarts running APs with INIT-SIPI, plus SIPIs they discard */
};

enum cvm_sim_mwait_policy {
	CVM_MWAIT_NATIVE,
	CVM_MWAIT_NOP,
	CVM_MWAIT_YIELD,
	CVM_MWAIT_EXIT,
};

enum cvm_sim_sipi_mode {
	CVM_SIPI_SINGLE,
	CVM_SIPI_RETRY,
};

struct cvm_sim_workload {
	enum cvm_sim_workload_type type;
	unsigned int tick_hz;        /* LAPIC periodic timer, 0 = none */
	uint64_t handler;            /* guest time per interrupt handled */
	struct cvm_sim_dist work;    /* timer: work after each tick */
	struct cvm_sim_arrival wake; /* hlt-idle, mwait-idle: device interrupts */
	struct cvm_sim_dist busy;    /* hlt-idle, mwait-idle: burst after a wake */
	struct cvm_sim_dist think;   /* ipi-pingpong: work before answering */
	enum cvm_sim_mwait_policy mwait;
	struct cvm_sim_arrival vmm_work; /* mwait-idle: VMM work items queued */
	struct cvm_sim_dist vmm_work_cost;
	uint64_t mwait_poll; /* nop/yield/exit: guest time per MWAIT loop turn */
	enum cvm_sim_sipi_mode sipi;
	uint64_t online_period; /* cpu-hotplug: time between offline/online cycles */
	uint64_t sipi_timeout;  /* retry: resend INIT-SIPI-SIPI after; single: AP lost after */
	uint64_t ap_boot;       /* guest time from SIPI to the AP reporting online */
	uint64_t smi_window;    /* SMI rendezvous lands uniformly within this of INIT */
	double extra_smi_probability; /* chance of a re-sent SMI to the AP being onlined */
	uint64_t extra_smi_delay;
	struct cvm_sim_dist smm_time; /* time an SMI keeps a vCPU in SMM */
	/*
	 * Bounded runs (0: unbounded): ipi-pingpong, IPIs each vCPU sends; timer,
	 * timer interrupts each vCPU takes. A vCPU that is done computes from then on.
	 */
	uint32_t rounds;
	bool oneshot;    /* timer: a one-shot timer armed before each HLT, not a periodic one */
	uint32_t cycles; /* init-sipi: INIT-SIPI cycles of every AP */
	uint32_t extra_sipis; /* init-sipi: SIPIs sent to each AP once it runs again (discarded) */
};

struct cvm_sim_vm_cfg {
	char name[CVM_SIM_MAX_NAME];
	unsigned int vcpus;
	unsigned int count;
	bool smt_protect;
	struct cvm_sim_workload workload;
};

/* Strategy parameters (defaults in scenario.c; see docs/sim.md). */
struct cvm_sim_strategy_params {
	uint64_t hotplug_latency; /* sibling-offline: time to offline or online the sibling */
	uint64_t lock_hold;       /* sibling-offline: global hotplug lock hold per operation */
	uint64_t max_defer;       /* partition: longest a deferred bottom half waits */
};

struct cvm_sim_watchdog {
	uint64_t threshold; /* the stall threshold that "stalls detected" counts */
	uint64_t thresholds[8];
	unsigned int nthresholds; /* extra thresholds reported, shortest first */
	uint64_t quantum;         /* guest time that counts as progress */
};

struct cvm_sim_tolerance {
	char metric[CVM_SIM_MAX_NAME];
	double relative;
};

struct cvm_sim_scenario {
	char path[256];
	char name[64];
	char description[256];
	uint64_t seed;
	uint64_t duration;
	struct cvm_sim_costs costs;
	struct cvm_sim_host host;
	struct cvm_sim_vm_cfg vms[CVM_SIM_MAX_LIST];
	unsigned int nvms;
	unsigned int total_vcpus;
	struct cvm_sim_strategy_params params;
	struct cvm_sim_watchdog watchdog;
	struct cvm_sim_tolerance tolerance[CVM_SIM_MAX_TOLERANCE];
	unsigned int ntolerance;
};

/*
 * Reads and checks a scenario file. On success `*out` is a new scenario the caller
 * frees with cvm_sim_scenario_free(). On failure one line names the file, the key
 * path and the problem (`s.json: host.noise[1].rate: must be >= 0, got -3`) and
 * a negative errno is returned. A cost profile named by a relative path is looked
 * up next to the scenario file.
 */
int cvm_sim_scenario_load(const char *path, struct cvm_sim_scenario **out);

/* The same from a JSON text in memory; `name` stands for the file in messages. */
int cvm_sim_scenario_parse(const char *name, const char *text, struct cvm_sim_scenario **out);

void cvm_sim_scenario_free(struct cvm_sim_scenario *s);

/* Names for trace lines, reports and messages. */
const char *cvm_sim_noise_kind_name(enum cvm_sim_noise_kind k);
const char *cvm_sim_workload_name(enum cvm_sim_workload_type t);
const char *cvm_sim_mwait_name(enum cvm_sim_mwait_policy p);

#endif
