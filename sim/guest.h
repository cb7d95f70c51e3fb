/* The simulated guest: one vCPU's real core state (lifecycle, local APIC, counters) and what its workload is doing. */
#ifndef COREVM_SIM_GUEST_H
#define COREVM_SIM_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "core/apic_bus.h"
#include "core/counters.h"
#include "core/lapic.h"
#include "core/lifecycle.h"
#include "sim/sim_internal.h"

/* Vectors the simulated guests use (Linux's numbers where Linux has one). */
#define VEC_DEVICE  0x41u /* a device interrupt (hlt-idle, mwait-idle) */
#define VEC_TIMER   0xecu /* LOCAL_TIMER_VECTOR */
#define VEC_IPI     0xfbu /* CALL_FUNCTION_SINGLE_VECTOR: ipi-pingpong */
#define VEC_RESCHED 0xfdu /* RESCHEDULE_VECTOR: cpu-hotplug asks an AP to go offline */
#define SIPI_VEC    0x10u /* trampoline at 0x10000 */

/* What the guest executes in its current chunk of guest time. */
enum gphase {
	PH_NONE,    /* nothing: halted, or the workload decides next */
	PH_WORK,    /* useful work */
	PH_HANDLER, /* an interrupt handler (vector in `vec`), IF=0 */
	PH_SMM,     /* the SMI handler, until RSM */
	PH_BOOT,    /* boot code (BSP) or the AP trampoline after SIPI */
	PH_SPIN,    /* MWAIT executed natively: idle in guest mode */
	PH_POLL,    /* the idle loop between MWAITs that exit (nop/yield/exit policies) */
};

struct gframe {
	uint8_t phase;
	bool if_flag;
	uint64_t left;
};

struct sim_guest {
	struct cvm_lc lc;
	struct cvm_lapic apic;
	struct cvm_counters ctr;
	uint8_t phase;
	uint8_t vec;   /* PH_HANDLER: the vector being handled */
	uint8_t depth; /* saved frames */
	uint8_t ws;    /* workload state (workload.c) */
	bool if_flag;  /* RFLAGS.IF */
	bool online;   /* reported online to the guest OS (after boot) */
	bool go_offline;
	bool lost;
	uint32_t sent, got;     /* bounded workloads: IPIs sent, interrupts taken (workload.c) */
	uint32_t boots;         /* times boot code finished (BSP power-on, AP after SIPI) */
	uint64_t ipis_sent;     /* ICR writes that made a message (any delivery mode) */
	uint64_t ipis_received; /* messages from a vCPU that reached this one (any outcome) */
	uint64_t left;          /* guest ns left in the chunk */
	uint64_t smm_until;     /* an SMM rendezvous releases this vCPU at that time (0: none) */

	struct gframe stack[4];
	uint32_t timer_gen;
	struct cvm_rng rng;
	struct sim_itemq vmmq;   /* VMM work waiting (mwait-idle) */
	struct sim_task *worker; /* the VMM's worker thread (mwait-idle, not "exit") */
};

/* Per-VM guest state. */
struct sim_gvm {
	struct cvm_apic_bus bus;
	/* cpu-hotplug script */
	uint32_t target; /* the AP being cycled */
	uint32_t tries;
	uint8_t due; /* BSP action due (enum in workload.c), 0 none */
	bool stopped;
	/* init-sipi script */
	uint8_t step;    /* what the BSP waits for (enum in workload.c) */
	uint32_t cycle;  /* the current cycle, from 1 */
	uint32_t extra;  /* SIPIs to the running target sent in this cycle */
	uint32_t awaits; /* the target's boot count that ends the wait */
};

static inline struct sim_guest *G(const struct sim_vcpu *v)
{
	return v->g;
}

static inline struct sim_gvm *GVM(const struct sim_vm *vm)
{
	return vm->wl;
}

/* guest.c services for workloads */
void guest_set_phase(struct cvm_sim *s, struct sim_vcpu *v, enum gphase ph, uint64_t left);
/* HLT (sti; hlt with `if_flag`): tells the core; the exit follows. */
enum sim_exit guest_hlt(struct cvm_sim *s, struct sim_vcpu *v, bool if_flag);
/* Writes the x2APIC ICR of v (an IPI, INIT or SIPI) and delivers it through the routing layer. */
void guest_send_icr(struct cvm_sim *s, struct sim_vcpu *v, uint64_t icr);
/* The VMM delivers `mode` (SMI...) to one vCPU (or all when `to` is NULL) through acceptance. */
void guest_vmm_signal(struct cvm_sim *s, struct sim_vm *vm, struct sim_vcpu *to, unsigned int mode);
/* Enables x2APIC mode, the APIC and (when the workload ticks) the periodic timer. */
void guest_lapic_setup(struct cvm_sim *s, struct sim_vcpu *v);
/* Stops the local APIC timer (an AP going offline). */
void guest_lapic_stop_timer(struct cvm_sim *s, struct sim_vcpu *v);
/* Arms the one-shot timer (timer workload with "oneshot") unless it is armed. */
void guest_lapic_oneshot(struct cvm_sim *s, struct sim_vcpu *v);
/* v's guest must look at something now: ends its current chunk if it runs (no exit). */
void guest_poke(struct cvm_sim *s, struct sim_vcpu *v);

/* workload.c */
int wl_init(struct cvm_sim *s);
void wl_fini(struct cvm_sim *s);
/* The chunk ended with nothing saved to resume: the workload's next step. */
enum sim_exit wl_next(struct cvm_sim *s, struct sim_vcpu *v, uint64_t *work, uint64_t *host);
/* A handler for `vec` finished (the interrupted frame is restored). */
void wl_after_irq(struct cvm_sim *s, struct sim_vcpu *v, uint8_t vec);
/* Boot code finished (BSP after power-on, AP after SIPI). */
void wl_booted(struct cvm_sim *s, struct sim_vcpu *v);
/* Extra host work of an exit (VMM work under the MWAIT "exit" policy). */
uint64_t wl_exit_work(struct cvm_sim *s, struct sim_vcpu *v, enum sim_exit reason);
/* A VMM worker thread finished its burst. */
void wl_worker_done(struct cvm_sim *s, struct sim_task *t);

#endif
