/* The cost profile: how long the hardware and host kernel take for entries, exits, kicks and wakes. */
#ifndef COREVM_SIM_COSTS_H
#define COREVM_SIM_COSTS_H

#include <stdint.h>
#include <stdio.h>

/*
 * All values in ns. The default profile (cvm_sim_costs_default) holds estimates
 * for an AMD Zen 4 SEV-SNP host (docs/sim.md says where each comes from);
 * `corevm calibrate` measures entry/exit, kick and wake on this machine's KVM and
 * writes a profile file in the format cvm_sim_costs_load() reads.
 */
struct cvm_sim_costs {
	char name[64];
	uint64_t entry;     /* VMRUN: host kernel to guest mode */
	uint64_t exit;      /* #VMEXIT: guest mode back to the host kernel */
	uint64_t exit_user; /* extra for taking an exit out to the VMM in userspace and back */
	uint64_t kick;      /* a kick IPI sent to a CPU in guest mode, until the exit starts */
	uint64_t wake;      /* waking a blocked vCPU thread, until it runs */
	uint64_t
	        hlt_wakeup; /* HLT_WAKEUP_ICR: idle sibling's interrupt to the vCPU's exit starting */
	uint64_t
	        idle_required_retry; /* host work between an IDLE_REQUIRED exit and the next VMRUN */
	uint64_t irq_entry;          /* host interrupt entry and return */
	uint64_t ctx_switch;         /* host context switch */
	uint64_t yield;              /* sched_yield() with nothing else to run */
};

void cvm_sim_costs_default(struct cvm_sim_costs *c);

struct cvm_jr;
struct json_object;

/*
 * Reads a profile object: every key optional (missing ones keep the values in
 * `*c`), unknown keys are errors. Reports through `jr`; returns false on error.
 */
_Bool cvm_sim_costs_read(struct cvm_jr *jr, struct json_object *obj, struct cvm_sim_costs *c);

/* Loads a profile file over the defaults. Reports one line and returns -errno on failure. */
int cvm_sim_costs_load(const char *path, struct cvm_sim_costs *c);

/*
 * Writes `c` as a profile file body (JSON, durations in ns), with `source` (how
 * the values were obtained; NULL: none) as its "source". Returns 0 or -errno.
 */
int __cvm_sim_costs_write(FILE *f, const struct cvm_sim_costs *c, const char *source);

#endif
