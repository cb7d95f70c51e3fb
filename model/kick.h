/*
 * A pure model of the vCPU state word and the kick protocol (docs/idle-work.md)
 * for the model checker (model/mc.h): one vCPU thread as vmm/vcpu.c runs it,
 * one submitter of an urgent work item (vmm/workq.c) and, with corevm's
 * irqchip, one sender of a guest interrupt (vmm/irqchip_user.c), each shared
 * access one step, explored over every interleaving.
 *
 * What it checks:
 *   - safety: once the item is queued (or the interrupt is pending), the vCPU
 *     enters the guest at most once before it runs the item (delivers the
 *     interrupt): "it ran within one kick";
 *   - liveness: from every reachable state the item can still run and the
 *     interrupt still be delivered, with a guest that leaves KVM_RUN by
 *     itself only a bounded number of times (then it spins with interrupts
 *     off, or stays halted): a lost kick or wake-up is a state from which
 *     nothing can ever happen again.
 * The model assumes sequential consistency: every access it treats as one
 * step is seq_cst in the code (or ordered by a seq_cst fence).
 */
#ifndef COREVM_MODEL_KICK_H
#define COREVM_MODEL_KICK_H

#include <stdbool.h>

#include "model/mc.h"

/* Who owns HLT: corevm (user irqchip: HLT exits, the thread sleeps on a futex) or KVM. */
enum kick_mode {
	KICK_USER = 0, /* user irqchip: asleep states, futex sleep, corevm delivers interrupts */
	KICK_KERNEL, /* kernel / split: the vCPU halts inside KVM_RUN; only the item is modelled */
};

/* Deliberate bugs the checker must catch (tests/model/test_kick_model.c). */
enum kick_mutant {
	KICK_MUT_NONE = 0,
	KICK_MUT_SUBMIT_READS_FIRST, /* the submitter reads the state word before queuing */
	KICK_MUT_BLOCK_READS_LATE,   /* the sleeper reads the futex word after its last look */
	KICK_MUT_NO_SIGNAL,          /* a kick sets immediate_exit only, sends no signal */
	KICK_MUT_NO_IMMEDIATE_EXIT,  /* a kick sends the signal only (expected to stay safe) */
	KICK_MUT_STATE_AFTER_LOOK,   /* the vCPU publishes HALTED after its last look for work */
	KICK_MUT_EINTR_REENTERS,     /* after EINTR the vCPU re-enters without looking for work */
	KICK_NMUTANTS,
};

const char *kick_mutant_name(enum kick_mutant m);

struct kick_config {
	enum kick_mode mode;
	enum kick_mutant mutant;
	unsigned int guest_exits; /* exits (port I/O) the guest makes by itself, at most 3 */
	unsigned int guest_hlts;  /* HLTs the guest executes, at most 3 */
};

/* Fills `m` (state size, callbacks) for `cfg`; `cfg` must outlive `m`. */
void kick_model(const struct kick_config *cfg, struct mc_model *m);

#endif
