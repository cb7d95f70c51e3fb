/* The world the model checker explores: 2-3 vCPUs on the real core, tiny guest programs, SMI/NMI/IRQ sources. */
#ifndef COREVM_MODEL_WORLD_H
#define COREVM_MODEL_WORLD_H

#include <stdint.h>

#include "core/apic_bus.h"
#include "core/lifecycle.h"
#include "model/mc.h"

/*
 * One state: per vCPU its struct cvm_lc (the real core's state), a guest
 * program counter and a few guest bits (IF, handler running, a pending
 * interrupt at its local APIC), plus shared guest memory flags and the
 * remaining budgets of environment events. 28 bytes, plain uint8_t.
 *
 * Transitions: one vCPU step (cvm_lc_next(), then the action, and for RUN
 * one guest instruction or handler step), or one environment event (SMI,
 * NMI, external interrupt to one vCPU, while its budget lasts). IPIs the
 * guests send go through the real ICR (cvm_lapic_mmio_write), routing
 * (cvm_apic_resolve) and acceptance (cvm_apic_accept). Fixed interrupts are
 * abstracted to one pending bit (the full local APIC is not in the state).
 */

#define W_MAX_CPUS 3
#define W_PC_NONE  0xffu

/* Guest instructions. a, b, c as noted. */
enum w_op {
	W_NOP = 0,
	W_SEND_INIT,  /* a dest, c shorthand */
	W_SEND_SIPI,  /* a dest, b vector, c shorthand */
	W_SEND_NMI,   /* a dest */
	W_SEND_SMI,   /* a dest */
	W_SEND_FIXED, /* a dest, b vector */
	W_SET_FLAG,   /* a flag bit */
	W_CLEAR_FLAG, /* a flag bit */
	W_WAIT_FLAG,  /* spin until flag a is set */
	W_RETRY_SIPI, /* until flag c is set: send SIPI b to a, again and again */
	W_JMP_IF,     /* if flag a: jump to b */
	W_JMP,        /* jump to b */
	W_HLT,
	W_HOLD, /* AP reset hold request (GHCB MSR protocol) */
	W_STI,
	W_CLI,
	W_DONE, /* the program ends: no further steps */
};

struct w_insn {
	uint8_t op, a, b, c;
};

struct w_scenario {
	const char *name;
	const char *summary;
	unsigned int ncpus;
	const struct w_insn *prog[W_MAX_CPUS];
	uint8_t prog_len[W_MAX_CPUS];
	uint8_t start_pc[W_MAX_CPUS]; /* BSP and running APs start here; protected APs' entry */
	uint8_t running_mask;         /* APs booted and running at the start (bit per CPU) */
	uint8_t protected_mask;       /* protected register state */
	uint8_t smi, nmi, intr;       /* environment budgets */
	uint8_t smi_mask, nmi_mask, intr_mask; /* CPUs the environment may hit */
	int8_t goal_flag;                      /* liveness: flag that must stay settable; -1 none */
	const char *goal_text;
	uint8_t expect_violation; /* `make check` expects a counterexample */
	uint32_t max_depth;
	uint64_t max_states;
};

/* The built-in scenarios (model/scenarios.c). */
const struct w_scenario *w_scenarios(unsigned int *n);
const struct w_scenario *w_find_scenario(const char *name);

/* Deliberate core bugs, injected by the model, that tests use to show the checker catches them. */
enum w_mutant {
	W_MUT_NONE = 0,
	W_MUT_SIPI_IN_SMM, /* keep a SIPI that arrived in SMM and deliver it after RSM */
	W_MUT_NMI_NEST,    /* forget NMI blocking after injecting an NMI */
	W_MUT_LOSE_INIT,   /* drop an INIT latched in SMM at RSM */
	W_MUT_DEAF_HALT,   /* a halted vCPU does not see pending interrupts */
	W_NR_MUTANTS
};

const char *w_mutant_name(unsigned int m);
int w_mutant_parse(const char *s); /* -1 when unknown */

/* Everything the model needs besides the states; fixed for one run. */
struct w_world {
	struct w_scenario sc;
	enum w_mutant mutant;
	struct cvm_apic_bus bus;
	struct cvm_lapic apic[W_MAX_CPUS]; /* ICR scratch for senders; never part of a state */
	struct cvm_counters ctr[W_MAX_CPUS];
	/* Per transition. */
	uint8_t smi_in[W_MAX_CPUS], nmi_in[W_MAX_CPUS], sipi_in[W_MAX_CPUS];
	uint8_t disp;
	char viol[160];
};

/* Prepares `w` for scenario `sc` with mutant `mut`; -EINVAL for an inconsistent scenario. */
int w_world_init(struct w_world *w, const struct w_scenario *sc, enum w_mutant mut);

/* Fills `m` to explore `w`. */
void w_model(struct w_world *w, struct mc_model *m);

#endif
