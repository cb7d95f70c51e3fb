/* The simulator's internal model: host CPUs in layers, tasks, vCPU threads, VMs, and what each .c file offers the others. */
#ifndef COREVM_SIM_SIM_INTERNAL_H
#define COREVM_SIM_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/bitmap.h"
#include "sim/dist.h"
#include "sim/engine.h"
#include "sim/metrics.h"
#include "sim/rng.h"
#include "sim/scenario.h"
#include "sim/sim.h"

/*
 * The host model in one paragraph (docs/sim.md has the long form). Each host
 * CPU runs at most three layers, the highest active one executing: an
 * interrupt layer (hard interrupts and softirq bottom halves, FIFO), a kernel
 * thread layer (noise kthread items, FIFO) and a user layer (one user task:
 * a vCPU thread or a host task; the others wait in the CPU's run queue). The
 * executing layer owns the CPU's one "segment" timer (EV_SEG); a layer that
 * is covered pauses with its remaining work kept. A vCPU thread in guest mode
 * that is covered exits first. A CPU is idle for the hardware when no layer
 * is active (or it is offline): that is the test SMT protection applies.
 */

/* Event kinds (struct cvm_sim_event.kind). */
enum sim_ev {
	EV_SEG,       /* obj cpu: the executing layer's segment ends */
	EV_TICK,      /* obj cpu: host scheduler tick */
	EV_SLICE,     /* obj cpu: the user task's time slice ends (others wait) */
	EV_NOISE,     /* obj noise stream: an arrival */
	EV_TASK_WAKE, /* obj host task: its sleep ends */
	EV_KICK,      /* obj vcpu: a kick reaches a vCPU in guest mode (arg: exit reason) */
	EV_LAPIC,     /* obj vcpu: local APIC timer deadline */
	EV_DEVICE,    /* obj vcpu: a device interrupt for hlt-idle / mwait-idle */
	EV_VMM_WORK,  /* obj vcpu: a VMM work item is queued */
	EV_GUEST,     /* obj vm: a guest script step (arg: step) */
	EV_HOTPLUG,   /* obj: index of a scheduled host hotplug event */
	EV_HP_RANDOM, /* next random host CPU offline */
	EV_HP_UP,     /* obj cpu: a random offline period ends */
	EV_PROBE,     /* obj cpu: a probe of a CPU that came online ends */
	EV_DEFER,     /* obj cpu: partition's bound on deferred work */
	EV_KTH,       /* obj cpu: a kernel thread that gave its CPU to the user task for a slice */
	EV_END,
	EV_NR
};

/* Exit reasons of a vCPU (counted, traced). */
enum sim_exit {
	EXIT_IRQ,           /* a host interrupt on the vCPU's CPU */
	EXIT_KICK,          /* a kick: an interrupt or a request for the vCPU */
	EXIT_PREEMPT,       /* the host wants the CPU (kthread, slice end) */
	EXIT_IDLE_REQUIRED, /* SMT protection: the sibling is not idle */
	EXIT_HLT_WAKEUP,    /* SMT protection: the idle sibling took an interrupt */
	EXIT_HLT,
	EXIT_MWAIT,
	EXIT_ICR, /* an IPI sent by the guest */
	EXIT_RSM,
	EXIT_WINDOW,     /* interrupt window: a pending interrupt became deliverable */
	EXIT_FAIL_ENTRY, /* VMRUN refused: no virtualization on this CPU */
	EXIT_NR
};

const char *sim_exit_name(enum sim_exit e);

/* Item sources beyond the scenario's noise sources. */
#define SIM_SRC_SPECIAL 0xfff0u /* sources at or above are not noise (no delay sample) */
#define SIM_SRC_VTIMER  0xfffeu /* the hrtimer behind a guest's local APIC timer */
#define SIM_SRC_TICK    0xffffu /* the host scheduler tick */

/* A unit of host interrupt or kernel-thread work. */
struct sim_item {
	uint64_t arrival;
	uint64_t left;        /* ns of work left */
	uint64_t bottom_left; /* a softirq's bottom half, run after this hard interrupt */
	uint64_t delay;       /* bottom half: the delay its hard interrupt already had */
	uint32_t wake;        /* vCPU gid + 1 to wake when done (its timer interrupt), or 0 */
	uint16_t src;         /* noise source index, or SIM_SRC_* */
	uint8_t bottom;       /* 1: a softirq bottom half (deferrable) */
	uint8_t counted;      /* it started: its delay was recorded */
};

/* A FIFO of items (ring buffer that grows). */
struct sim_itemq {
	struct sim_item *v;
	uint32_t head, n, cap;
};

enum sim_task_kind {
	TASK_HOST,
	TASK_VCPU,
};

enum sim_task_state {
	TS_BLOCKED,
	TS_QUEUED,
	TS_CURRENT, /* the user layer of its CPU (executing or covered) */
};

struct sim_vcpu;

/* A user task: a vCPU thread or a host task. */
struct sim_task {
	uint32_t id;
	uint8_t kind;
	uint8_t state;
	int32_t cpu;       /* current / queued / last CPU, -1 before the first run */
	int32_t pinned;    /* the one CPU it may use, or -1 when it floats over `allowed` */
	uint64_t *allowed; /* CPU set (ncpus bits), owned by the simulator */
	uint64_t cookie;   /* core-scheduling cookie, 0 = none */
	uint64_t left;     /* host task: ns left in its run burst */
	uint64_t enq_time;
	struct sim_task *next; /* run queue link */
	struct sim_vcpu *vcpu; /* TASK_VCPU */
	uint32_t src;          /* TASK_HOST: task source index */
	uint32_t wake_gen;
	struct cvm_rng rng;
};

struct sim_taskq {
	struct sim_task *head, *tail;
	uint32_t n;
};

/* What a CPU's time is spent on (accounting buckets). */
enum sim_acct {
	ACCT_IDLE,
	ACCT_FORCED,    /* kept idle by the strategy */
	ACCT_OFFLINE,   /* offline (host hotplug) */
	ACCT_STRAT_OFF, /* offlined by sibling-offline */
	ACCT_IRQ,
	ACCT_KTHREAD,
	ACCT_HOST_TASK,
	ACCT_VCPU_HOST,  /* vCPU thread in the host kernel: entries, exits, handling */
	ACCT_VCPU_SPIN,  /* vCPU thread retrying IDLE_REQUIRED entries or waiting for its sibling */
	ACCT_GUEST,      /* guest mode, useful work */
	ACCT_GUEST_IDLE, /* guest mode, idling in MWAIT or a poll loop */
	ACCT_NR
};

struct sim_cpu {
	uint32_t id, core, thread;
	bool online;    /* for the host */
	bool strat_off; /* offlined by sibling-offline (online is false too) */
	bool virt_ok;   /* virtualization enabled */
	bool hk;        /* housekeeping */
	bool nohz_full;
	bool forced; /* the strategy keeps it idle */
	bool irq_active, kth_active;
	bool kth_yielded; /* the kernel thread layer waits for the user task's slice to end */
	bool held;        /* HLT_WAKEUP_ICR: its interrupts wait until `held_for` has exited */
	bool cookie_idle; /* core-cookie: tasks wait but none may run beside the siblings' */
	bool draining;    /* gang/partition: deferred work released, not deferred again */
	struct sim_vcpu *forced_by; /* gang/partition: the protected vCPU keeping it idle */
	uint8_t acct;
	struct sim_vcpu *held_for;
	struct sim_task *curr;
	struct sim_itemq irqq, kq, deferred;
	struct sim_taskq uq;
	uint64_t seg_start;
	uint32_t seg_gen, tick_gen, slice_gen, defer_gen, kth_gen;
	bool tick_armed, slice_armed, defer_armed;
	uint64_t slice_start;
	uint64_t acct_since;
	uint64_t deferred_since; /* oldest deferred item's arrival */
	uint64_t kth_run;        /* ns the kernel thread in turn has run of its slice */
};

/* vCPU thread modes while it is its CPU's current task. */
enum sim_vmode {
	VM_OFF,     /* not current anywhere (blocked or queued) */
	VM_HOST,    /* host-side work (seg_left ns), then the entry decision */
	VM_ENTER,   /* VMRUN in progress (entry cost) */
	VM_GUEST,   /* guest mode: seg_left = guest work to the next guest step */
	VM_EXIT,    /* #VMEXIT in progress (exit cost), then host handling */
	VM_SPIN,    /* IDLE_REQUIRED loop: retrying VMRUN until the siblings are idle */
	VM_WAIT,    /* waiting for the siblings to become idle (no retries) */
	VM_HOTPLUG, /* sibling-offline: taking the hotplug lock and (off|on)lining the sibling */
};

/* Guest idle kinds (what the guest does when it has nothing to run). */
enum sim_gwant {
	GW_RUN,  /* has work */
	GW_IDLE, /* halted or waiting for SIPI: quiescent */
};

struct sim_guest; /* guest.c: the core's state for this vCPU and the workload's */
struct sim_vm;

struct sim_vcpu {
	uint32_t gid; /* global index */
	uint32_t idx; /* index within its VM */
	struct sim_vm *vm;
	struct sim_task task;
	uint8_t mode;
	bool protect;         /* SMT protection demanded */
	bool blocked;         /* guest blocked (HLT, wait-for-SIPI): thread sleeps */
	bool kick_pending;    /* EV_KICK in flight */
	bool wait_gang;       /* gang/partition: owns its siblings (forced idle) */
	bool hp_offlined;     /* sibling-offline: the sibling is offline for it */
	bool spin_armed;      /* VM_SPIN: the next (successful) retry is scheduled */
	bool woken;           /* woken from a block: its next run pays the wake cost */
	bool resched;         /* descheduled while in host mode: pays a context switch */
	uint8_t hp_next;      /* strategy work pending: 1 the entry goes on after it, 2 the exit */
	uint8_t hp_op;        /* sibling-offline: the hotplug operation in progress */
	bool want_yield;      /* MWAIT yield policy: yield the CPU before the next entry */
	uint8_t pending_exit; /* exit reason being processed */
	uint8_t acct; /* vCPU time bucket: 0 guest useful, 1 guest idle, 2 waiting, 3 quiescent */
	uint64_t seg_left;   /* ns left in the current mode's segment */
	uint64_t host_next;  /* host work to do after the current exit */
	uint64_t work;       /* guest work of the entry being made */
	uint64_t spin_start; /* VM_SPIN: when the current retry loop started */
	uint64_t acct_since;
	uint32_t kick_gen;
	struct sim_guest *g;
	/* watchdog */
	uint64_t need_since;   /* start of the current stretch without progress */
	uint64_t progress_acc; /* guest time since the last progress mark */
	uint64_t longest;
	bool quiescent;
	/* time buckets (ns) */
	uint64_t t_guest, t_guest_idle, t_wait, t_quiet;
	uint64_t wake_time; /* when it was last woken from a block (0 = not pending) */
};

struct sim_place; /* place.c: the real host placement for one VM */

struct sim_vm {
	uint32_t id;
	const struct cvm_sim_vm_cfg *cfg;
	uint32_t nvcpus;
	struct sim_vcpu *vcpus; /* points into sim->vcpus */
	struct sim_place *place;
	void *wl; /* workload.c: per-VM script state */
	uint64_t exits, idle_required, mwait_exits, vmm_work_done, stalls;
	struct sim_hist wake_latency; /* interrupt for a blocked vCPU to its next guest entry */
	struct sim_hist vmm_delay;    /* VMM work item queued to started */
};

/* One noise arrival process: a source on one CPU (per_cpu) or over its set. */
struct sim_stream {
	uint16_t src;
	int32_t cpu; /* -1: lands on a random CPU of the set */
	struct cvm_sim_arrival arrival;
	struct cvm_rng rng;
};

/* The strategy ops table (strategy.h has the contract and the inline wrappers). */
struct sim_strategy_ops;

/* Counters of one run. */
struct sim_stats {
	uint64_t exits[EXIT_NR];
	uint64_t entries;
	uint64_t entry_failures;
	uint64_t idle_required;
	uint64_t hlt_wakeups;
	uint64_t noise_items;
	uint64_t lock_wait_max;
	uint64_t hp_events;
	uint64_t replacements;
	uint64_t quarantined;
	uint64_t vms_failed;
	uint64_t ap_attempts, aps_lost, ap_retries;
	uint64_t mwait_exits, vmm_work_done;
	uint64_t sipis_sent, inits_sent, ipis_sent, ipis_delivered;
};

struct cvm_sim {
	const struct cvm_sim_scenario *sc;
	struct cvm_sim_options opt;
	const struct sim_strategy_ops *ops;
	void *strat; /* strategy private state */
	struct cvm_sim_engine eng;
	uint64_t end;
	unsigned int ncpus, ncores, tpc;
	struct sim_cpu *cpus;
	uint32_t *core_cpus; /* ncores x tpc CPU ids, from the host topology */
	struct sim_task *htasks;
	unsigned int nhtasks;
	struct sim_stream *streams;
	unsigned int nstreams;
	uint64_t *steer_map[CVM_SIM_MAX_LIST]; /* per noise source: its CPU set after steering */
	uint32_t *src_cpus[CVM_SIM_MAX_LIST];  /* per noise source: its CPUs in order */
	unsigned int src_ncpus[CVM_SIM_MAX_LIST];
	struct sim_vm *vms;
	unsigned int nvms;
	struct sim_vcpu *vcpus;
	unsigned int nvcpus;
	uint64_t *waiting_cpus; /* CPUs with user tasks waiting in their run queue */
	uint64_t *idle_map;     /* online CPUs idle and not forced idle */
	uint64_t *scratch;      /* ncpus-bit scratch map */
	uint64_t lock_free_at;  /* sibling-offline: global hotplug lock */
	uint32_t *probe_gen;    /* per CPU: the probe scheduled last */
	uint32_t *probe_done;   /* per CPU: the probe finished last */
	struct cvm_rng hp_rng;  /* host hotplug process */
	struct cvm_rng misc_rng;
	uint64_t acct[ACCT_NR]; /* CPU ns per bucket */
	struct sim_stats st;
	struct sim_hist noise_delay;
	struct sim_hist wake_latency;
	struct sim_hist vmm_delay;
	uint64_t stalls_at[CVM_SIM_THRESHOLDS];
	uint64_t thresholds[CVM_SIM_THRESHOLDS];
	unsigned int nthresholds;
	int err; /* first fatal error (-errno): the run stops */
	char trace_buf[512];
};

/* ---- sim.c ---- */

/* Queues an event; a failure to allocate stops the run with sim->err set. */
void sim_at(struct cvm_sim *s, uint64_t t, enum sim_ev kind, uint32_t obj, uint32_t gen,
            uint32_t arg);
/* The timers of a run (engine.h): per CPU and per vCPU, each with at most one pending event. */
enum sim_cpu_timer { T_SEG, T_KTH, T_SLICE, T_TICK, T_DEFER, T_PROBE, T_CPU_NR };
enum sim_vcpu_timer { T_KICK, T_LAPIC, T_VCPU_NR };

static inline uint32_t cpu_timer(const struct cvm_sim *s, unsigned int cpu, enum sim_cpu_timer k)
{
	(void)s;
	return 1 + cpu * T_CPU_NR + k;
}

static inline uint32_t vcpu_timer(const struct cvm_sim *s, unsigned int gid, enum sim_vcpu_timer k)
{
	return 1 + s->sc->host.ncpus * T_CPU_NR + gid * T_VCPU_NR + k;
}

/* Arms a timer (replacing its pending event); a failure stops the run with sim->err set. */
void sim_arm(struct cvm_sim *s, uint32_t timer, uint64_t t, enum sim_ev kind, uint32_t obj,
             uint32_t gen, uint32_t arg);
/* Writes one trace line "<now> <text>" when tracing. */
void sim_trace(struct cvm_sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool sim_tracing(const struct cvm_sim *s)
{
	return s->opt.trace != NULL;
}
static inline uint64_t sim_now(const struct cvm_sim *s)
{
	return s->eng.now;
}
/* Stops the run with an error already reported. */
void sim_fail(struct cvm_sim *s, int err);

/* ---- sched.c: CPU layers, run queues, tasks ---- */

void sched_init_cpu(struct cvm_sim *s, struct sim_cpu *c);
bool cpu_busy(const struct sim_cpu *c);
/* The CPUs of core k. */
static inline const uint32_t *core_cpus(const struct cvm_sim *s, unsigned int k)
{
	return &s->core_cpus[k * s->tpc];
}
/* True when every other thread of c's core is idle for the hardware. */
bool siblings_idle(const struct cvm_sim *s, const struct sim_cpu *c);
/* Re-evaluates what c runs after a change (picks the next task, starts layers). */
void cpu_reschedule(struct cvm_sim *s, struct sim_cpu *c);
/* Arms c's segment timer for the executing layer (after it changed). */
void cpu_arm_segment(struct cvm_sim *s, struct sim_cpu *c);
/* Pauses the executing layer of c (accounts elapsed work) before a higher one starts. */
void cpu_pause_top(struct cvm_sim *s, struct sim_cpu *c);
void cpu_seg_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen);
void cpu_tick_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen);
void cpu_kth_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen);
void cpu_slice_event(struct cvm_sim *s, struct sim_cpu *c, uint32_t gen);
void cpu_update_tick(struct cvm_sim *s, struct sim_cpu *c);
void cpu_acct(struct cvm_sim *s, struct sim_cpu *c);
/* Makes a blocked task runnable (placing it on a CPU's queue or running it). */
void task_wake(struct cvm_sim *s, struct sim_task *t);
/* The current task of its CPU stops running (blocks); the CPU picks the next. */
void task_block(struct cvm_sim *s, struct sim_task *t);
/* The current task yields its CPU (back to the queue tail) when others wait. */
void task_yield(struct cvm_sim *s, struct sim_task *t);
/* Moves a task that may no longer run where it is (new CPU set, CPU offline). */
void task_migrate_if_needed(struct cvm_sim *s, struct sim_task *t);
/* Moves the current task of its CPU elsewhere now (gang clears a sibling). */
void task_evict(struct cvm_sim *s, struct sim_task *t);
/* Moves c's kernel-thread work to its deferred queue (the strategy keeps c idle). */
void cpu_defer_kthreads(struct cvm_sim *s, struct sim_cpu *c);
/* Arms c's slice timer at `at` unless armed. */
void cpu_arm_slice(struct cvm_sim *s, struct sim_cpu *c, uint64_t at);
/* Removes t from c's run queue. */
void taskq_remove(struct sim_taskq *q, struct sim_task *t);
/* Whether t may run on c now according to placement and CPU state. */
bool task_allowed_on(const struct cvm_sim *s, const struct sim_task *t, const struct sim_cpu *c);
/* Kernel-thread items: queue on c (waking it), or defer per strategy. */
void kthread_enqueue(struct cvm_sim *s, struct sim_cpu *c, struct sim_item it);
/* Interrupt items: queue on c and run (or hold for HLT_WAKEUP_ICR). */
void irq_enqueue(struct cvm_sim *s, struct sim_cpu *c, struct sim_item it);
/* Starts interrupts that waited for a sibling vCPU's exit (HLT_WAKEUP_ICR). */
void cpu_release_held(struct cvm_sim *s, struct sim_cpu *c);
/* Moves c's deferred items back to its queues (the strategy released it). */
void cpu_release_deferred(struct cvm_sim *s, struct sim_cpu *c);
/* A CPU goes offline / online (host hotplug or sibling-offline). */
void cpu_set_offline(struct cvm_sim *s, struct sim_cpu *c, bool by_strategy);
void cpu_set_online(struct cvm_sim *s, struct sim_cpu *c, bool by_strategy);
void host_task_event(struct cvm_sim *s, struct sim_task *t, uint32_t gen);
/* The user task on c finished its segment (host task burst or vCPU mode segment). */
void host_task_segment_done(struct cvm_sim *s, struct sim_cpu *c, struct sim_task *t);

bool itemq_push(struct sim_itemq *q, struct sim_item it);
static inline struct sim_item *itemq_front(struct sim_itemq *q)
{
	return q->n ? &q->v[q->head] : NULL;
}
void itemq_pop(struct sim_itemq *q);
void itemq_free(struct sim_itemq *q);

/* ---- noise.c ---- */

int noise_init(struct cvm_sim *s);
void noise_event(struct cvm_sim *s, uint32_t stream);
/* Records the delay of an item starting service now (after `extra` ns of guest exit). */
void noise_started(struct cvm_sim *s, struct sim_item *it, uint64_t extra);
/* Where an arrival for source `src` aimed at CPU `cpu` lands (steering, offline CPUs). */
int noise_target(struct cvm_sim *s, unsigned int src, int cpu);

/* ---- smtp.c: the SMT-protection hardware model ---- */

/* c became busy (it was idle): protected vCPUs in guest mode on its siblings exit. */
void smtp_cpu_left_idle(struct cvm_sim *s, struct sim_cpu *c);
/* c became idle: vCPUs on its siblings waiting for idle siblings may enter. */
void smtp_cpu_became_idle(struct cvm_sim *s, struct sim_cpu *c);
/* An interrupt for idle c: returns true when it is held for HLT_WAKEUP_ICR. */
bool smtp_irq_for_idle(struct cvm_sim *s, struct sim_cpu *c);
/* v (protected) finished exiting: release interrupts held for it on its siblings. */
void smtp_vcpu_exited(struct cvm_sim *s, struct sim_vcpu *v);
/* The protected vCPU on the sibling that an interrupt on c would have to kick, if any. */
struct sim_vcpu *smtp_guest_sibling(struct cvm_sim *s, const struct sim_cpu *c);

/* ---- vcpu.c: the vCPU thread on a host CPU ---- */

void vcpu_set_mode(struct cvm_sim *s, struct sim_vcpu *v, enum sim_vmode m, uint64_t seg);
/* The vCPU's thread becomes current on its CPU (or resumes after being covered). */
void vcpu_resume(struct cvm_sim *s, struct sim_vcpu *v);
/* Its thread is covered by a higher layer (elapsed ns into its segment): a guest-mode vCPU exits. */
void vcpu_covered(struct cvm_sim *s, struct sim_vcpu *v, uint64_t elapsed);
/* Its mode's segment ended. */
void vcpu_segment_done(struct cvm_sim *s, struct sim_vcpu *v);
/* Its thread left its CPU (blocked, preempted or moved). */
void vcpu_descheduled(struct cvm_sim *s, struct sim_vcpu *v);
/* Forces a guest-mode vCPU out now with `reason` (IDLE_REQUIRED, kick...). */
void vcpu_force_exit(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason);
/* Ends v's current guest chunk now (the guest looks at something) without an exit. */
void vcpu_end_chunk(struct cvm_sim *s, struct sim_vcpu *v);
/* Asks for a kick of v after `latency` (an interrupt or request waits). */
void vcpu_kick(struct cvm_sim *s, struct sim_vcpu *v, uint64_t latency, enum sim_exit reason);
void vcpu_kick_event(struct cvm_sim *s, struct sim_vcpu *v, uint32_t gen, uint32_t reason);
/* Something may make a blocked vCPU runnable (an interrupt, INIT, SIPI...). */
void vcpu_wake(struct cvm_sim *s, struct sim_vcpu *v);
/* The siblings of v's CPU became idle: a spinning / waiting v may enter. */
void vcpu_siblings_idle(struct cvm_sim *s, struct sim_vcpu *v);
/* Whether v is entering or in guest mode. */
static inline bool vcpu_in_guest(const struct sim_vcpu *v)
{
	return v->mode == VM_ENTER || v->mode == VM_GUEST;
}
void vcpu_acct(struct cvm_sim *s, struct sim_vcpu *v);
void vcpu_progress(struct cvm_sim *s, struct sim_vcpu *v, uint64_t guest_ns, uint64_t start);
void vcpu_set_quiescent(struct cvm_sim *s, struct sim_vcpu *v, bool q);

/* ---- guest.c: the guest side, driven through the real core ---- */

/* What the guest does at an entry decision. */
enum sim_gact {
	GACT_RUN,   /* enter; the guest runs `*work` ns before its next step */
	GACT_BLOCK, /* nothing to run: the thread sleeps until vcpu_wake() */
};

int guest_init(struct cvm_sim *s);
void guest_fini(struct cvm_sim *s);
/* At an entry: processes the core's pending actions; fills *work (guest ns to the next step). */
enum sim_gact guest_prepare(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work);
/* The guest ran `ran` ns of its current chunk and left guest mode (or finished it). */
void guest_account(struct cvm_sim *s, struct sim_vcpu *v, uint64_t ran);
/*
 * The current chunk finished in guest mode. Returns the exit to take (and the
 * host cost in *host), or EXIT_NR to keep running with *work ns of new guest work.
 */
enum sim_exit guest_step(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work, uint64_t *host);
/* Whether the current chunk is idle looping (MWAIT native / poll) rather than useful. */
bool guest_idle_chunk(const struct sim_vcpu *v);
void guest_lapic_event(struct cvm_sim *s, struct sim_vcpu *v, uint32_t gen);
void guest_device_event(struct cvm_sim *s, struct sim_vcpu *v);
void guest_vmm_work_event(struct cvm_sim *s, struct sim_vcpu *v);
void guest_script_event(struct cvm_sim *s, struct sim_vm *vm, uint32_t step);
/* Host-side handling after an exit (VMM work for MWAIT exits). Returns the extra host ns. */
uint64_t guest_exit_work(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason);
/* A VMM worker thread (TASK_HOST with `vcpu` set) finished its burst. */
void guest_worker_done(struct cvm_sim *s, struct sim_task *t);
/* Sums the core's counters into the result. */
void guest_collect(struct cvm_sim *s, struct cvm_sim_result *r);
/* The core's counters of one VM's vCPUs, summed, and its IPI counts. */
void guest_collect_vm(const struct sim_vm *vm, struct cvm_sim_vm_result *x);

/* ---- place.c: vCPU placement through host/placement.h ---- */

int place_init(struct cvm_sim *s);
void place_fini(struct cvm_sim *s);
/* Host hotplug: the placers re-place; vCPU threads move. */
void place_cpu_offline(struct cvm_sim *s, unsigned int cpu);
void place_cpu_online(struct cvm_sim *s, unsigned int cpu);
void place_probe_event(struct cvm_sim *s, unsigned int cpu, uint32_t token);
/* A guest entry failed on `cpu` for vCPU v. */
void place_entry_failed(struct cvm_sim *s, struct sim_vcpu *v, unsigned int cpu);
bool place_quarantined(const struct cvm_sim *s, unsigned int cpu);

/* ---- hotplug.c: host CPU hotplug events ---- */

int hotplug_init(struct cvm_sim *s);
void hotplug_event(struct cvm_sim *s, enum sim_ev kind, uint32_t obj);

#endif
