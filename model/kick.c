/* The state word and kick protocol as a model for the checker: one vCPU thread, one submitter, one interrupt sender. */
#include "model/kick.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The public state word (vmm/vm_internal.h's enum cvm_vcpu_state, the part that matters). */
enum { W_RUNNING = 0, W_IN_VMM, W_HALTED };

/*
 * The vCPU thread's program counter: vmm/vcpu.c's state functions cut into
 * their shared accesses (user_block and the evaluate step are irqchip_user.c's).
 */
enum {
	V_CLEAR = 0,  /* state_running: immediate_exit = 0 (then a seq_cst fence) */
	V_LOOK,       /* cvm_workq_urgent_pending(): reads the list count */
	V_URG_IN,     /* state = IN_VMM */
	V_URG_RUN,    /* takes and runs the item */
	V_URG_OUT,    /* state = RUNNING */
	V_EVAL,       /* user pre_entry / HLT exit: events = 0 */
	V_EVAL_IRQ,   /* reads the interrupt: inject, block, or go on */
	V_ENTRY,      /* KVM_RUN: entries++, immediate_exit, pending signal */
	V_GUEST,      /* inside the guest */
	V_EINTR,      /* KVM_RUN returned EINTR: eat the kick signals */
	V_EXIT,       /* KVM_RUN returned an exit: state = IN_VMM */
	V_HANDLE,     /* exit handled: state = RUNNING */
	V_EXIT_HLT,   /* HLT exit (user): state = IN_VMM, then the irqchip evaluates */
	V_TO_RUNNING, /* the HLT exit found an interrupt: state = RUNNING */
	V_BLOCK,      /* BLOCK: state = HALTED */
	V_A_LOOK,     /* state_asleep: urgent work? */
	V_A_URG,      /* runs it (still asleep) */
	V_A_INT_N,    /* asleep_interrupted(): urgent work? */
	V_A_INT_E,    /* asleep_interrupted(): events? */
	V_B_SEEN,     /* user_block: seen = futex word */
	V_B_EVENTS,   /* user_block: events? */
	V_B_WORK,     /* user_block: work? */
	V_B_LATE,     /* (mutants) the late step before the wait */
	V_B_WAIT,     /* futex_wait(word, seen) */
	V_SLEEP,      /* asleep in the futex */
	V_WAKE,       /* leaves the sleep: state = RUNNING */
	V_NPC,
};

/* A waker (the submitter or the interrupt sender). */
enum {
	K_FIRST = 0, /* submitter: queue the item; sender: make the interrupt pending */
	K_SECOND,    /* submitter: read the state; sender: exchange the events flag */
	K_READ,      /* sender: read the state */
	K_ACT,       /* choose: kick (RUNNING), wake (HALTED), nothing (IN_VMM) */
	K_KICK_IE,   /* immediate_exit = 1 */
	K_KICK_SIG,  /* tgkill: the signal is pending on the vCPU thread */
	K_WAKE_BUMP, /* futex word++ */
	K_WAKE,      /* FUTEX_WAKE */
	K_DONE,
	K_NPC,
};

enum { ACT_VCPU = 0, ACT_SUBMIT, ACT_EVENT };

struct ks {
	uint8_t pc, eval_from_hlt; /* vCPU thread */
	uint8_t word;              /* the state word */
	uint8_t ie, sig;           /* immediate_exit; kick signal pending */
	uint8_t halted;            /* the guest waits in HLT for an interrupt */
	uint8_t fword, seen, sleeping;
	uint8_t events, irq, irq_done;
	uint8_t n, item_done;             /* the urgent item: queued, run */
	uint8_t ent_item, ent_irq;        /* guest entries while it was queued / pending */
	uint8_t exits_left, hlts_left;    /* the guest's own exits still allowed */
	uint8_t kpc[2], kread[2], pushed; /* submitter, sender */
};

const char *kick_mutant_name(enum kick_mutant m)
{
	static const char *const names[KICK_NMUTANTS] = {
	        [KICK_MUT_NONE] = "none",
	        [KICK_MUT_SUBMIT_READS_FIRST] = "submit-reads-state-first",
	        [KICK_MUT_BLOCK_READS_LATE] = "block-reads-futex-word-late",
	        [KICK_MUT_NO_SIGNAL] = "kick-without-signal",
	        [KICK_MUT_NO_IMMEDIATE_EXIT] = "kick-without-immediate-exit",
	        [KICK_MUT_STATE_AFTER_LOOK] = "halted-published-after-look",
	        [KICK_MUT_EINTR_REENTERS] = "eintr-reenters-without-look",
	};

	return (unsigned int)m < KICK_NMUTANTS ? names[m] : "?";
}

static void initial(void *ctx, void *state)
{
	const struct kick_config *c = ctx;
	struct ks *s = state;

	memset(s, 0, sizeof(*s));
	s->pc = V_CLEAR;
	s->word = W_RUNNING;
	s->exits_left = (uint8_t)(c->guest_exits > 3 ? 3 : c->guest_exits);
	s->hlts_left = (uint8_t)(c->guest_hlts > 3 ? 3 : c->guest_hlts);
	s->kpc[0] = K_FIRST;
	s->kpc[1] = c->mode == KICK_USER ? K_FIRST : K_DONE;
}

static mc_label lab(unsigned int actor, unsigned int pc)
{
	return (mc_label)(actor << 8 | pc);
}

/* Enters the guest (KVM_RUN), counting the entry against pending news. */
static void entry(struct mc_emitter *em, const struct ks *s, struct ks *n)
{
	if (s->n && ++n->ent_item >= 2) {
		mc_violation(em, lab(ACT_VCPU, V_ENTRY), n,
		             "the vCPU entered the guest twice while the urgent item waited");
		return;
	}
	if (s->irq && ++n->ent_irq >= 2) {
		mc_violation(em, lab(ACT_VCPU, V_ENTRY), n,
		             "the vCPU entered the guest twice while an interrupt was pending");
		return;
	}
	/* KVM checks immediate_exit, then (the kick signal unblocked inside) pending signals. */
	n->pc = s->ie || s->sig ? V_EINTR : V_GUEST;
	mc_emit(em, lab(ACT_VCPU, V_ENTRY), n);
}

/* The irqchip's evaluate, second half: deliver, block, or go on. */
static void eval_irq(const struct ks *s, struct ks *n)
{
	if (s->irq) {
		n->irq = 0;
		n->irq_done = 1;
		n->halted = 0;
		n->pc = s->eval_from_hlt ? V_TO_RUNNING : V_ENTRY;
	} else if (s->halted) {
		n->pc = V_BLOCK;
	} else {
		n->pc = V_ENTRY;
	}
}

static void expand_vcpu(const struct kick_config *c, const struct ks *s, struct mc_emitter *em)
{
	struct ks n = *s;
	bool user = c->mode == KICK_USER;
	bool late =
	        c->mutant == KICK_MUT_BLOCK_READS_LATE || c->mutant == KICK_MUT_STATE_AFTER_LOOK;

	switch (s->pc) {
	case V_CLEAR:
		n.ie = 0;
		n.pc = V_LOOK;
		break;
	case V_LOOK:
		n.pc = s->n ? V_URG_IN : user ? V_EVAL : V_ENTRY;
		n.eval_from_hlt = 0;
		break;
	case V_URG_IN:
		n.word = W_IN_VMM;
		n.pc = V_URG_RUN;
		break;
	case V_URG_RUN:
	case V_A_URG:
		n.n = 0;
		n.item_done = 1;
		n.pc = s->pc == V_URG_RUN ? V_URG_OUT : V_A_LOOK;
		break;
	case V_URG_OUT:
	case V_HANDLE:
	case V_TO_RUNNING:
	case V_WAKE:
		n.word = W_RUNNING;
		n.pc = V_CLEAR;
		break;
	case V_EVAL:
		n.events = 0;
		n.pc = V_EVAL_IRQ;
		break;
	case V_EVAL_IRQ:
		eval_irq(s, &n);
		break;
	case V_ENTRY:
		entry(em, s, &n);
		return;
	case V_GUEST:
		if (s->sig) { /* the kick: KVM_RUN returns EINTR */
			n.pc = V_EINTR;
			mc_emit(em, lab(ACT_VCPU, V_EINTR), &n);
			n = *s;
		}
		if (s->halted)
			return; /* kernel, split: halted inside KVM_RUN, only a signal ends it */
		if (s->exits_left) {
			n.exits_left--;
			n.pc = V_EXIT;
			mc_emit(em, lab(ACT_VCPU, V_EXIT), &n);
			n = *s;
		}
		if (s->hlts_left) {
			n.hlts_left--;
			n.halted = 1;
			n.pc = user ? V_EXIT_HLT : V_GUEST;
			mc_emit(em, lab(ACT_VCPU, V_EXIT_HLT), &n);
		}
		return; /* no successor: the guest spins with interrupts off */
	case V_EINTR:
		n.sig = 0; /* eat_kick_signals() */
		n.pc = c->mutant == KICK_MUT_EINTR_REENTERS ? V_ENTRY : V_CLEAR;
		break;
	case V_EXIT:
		n.word = W_IN_VMM;
		n.pc = V_HANDLE;
		break;
	case V_EXIT_HLT:
		n.word = W_IN_VMM;
		n.eval_from_hlt = 1;
		n.pc = V_EVAL;
		break;
	case V_BLOCK:
		if (c->mutant != KICK_MUT_STATE_AFTER_LOOK)
			n.word = W_HALTED;
		n.pc = V_A_LOOK;
		break;
	case V_A_LOOK:
		n.pc = s->n ? V_A_URG : V_A_INT_N;
		break;
	case V_A_INT_N:
		n.pc = s->n ? V_WAKE : V_A_INT_E;
		break;
	case V_A_INT_E:
		n.pc = s->events ? V_WAKE : V_B_SEEN;
		break;
	case V_B_SEEN:
		if (c->mutant != KICK_MUT_BLOCK_READS_LATE)
			n.seen = s->fword;
		n.pc = V_B_EVENTS;
		break;
	case V_B_EVENTS:
		n.pc = s->events ? V_A_LOOK : V_B_WORK;
		break;
	case V_B_WORK:
		n.pc = s->n ? V_A_LOOK : late ? V_B_LATE : V_B_WAIT;
		break;
	case V_B_LATE:
		if (c->mutant == KICK_MUT_BLOCK_READS_LATE)
			n.seen = s->fword;
		else
			n.word = W_HALTED;
		n.pc = V_B_WAIT;
		break;
	case V_B_WAIT:
		if (s->fword != s->seen) {
			n.pc = V_A_LOOK; /* the word moved: futex_wait returns at once */
		} else {
			n.sleeping = 1;
			n.pc = V_SLEEP;
		}
		break;
	case V_SLEEP:
		if (s->sleeping)
			return; /* nothing but a FUTEX_WAKE ends it */
		n.pc = V_A_LOOK;
		break;
	default:
		return;
	}
	mc_emit(em, lab(ACT_VCPU, s->pc), &n);
}

/* The submitter (k = 0) or the interrupt sender (k = 1). */
static void expand_waker(const struct kick_config *c, const struct ks *s, unsigned int k,
                         struct mc_emitter *em)
{
	struct ks n = *s;
	bool reads_first = k == 0 && c->mutant == KICK_MUT_SUBMIT_READS_FIRST;

	switch (s->kpc[k]) {
	case K_FIRST:
		if (k == 0 && reads_first && !s->pushed) {
			n.kread[0] =
			        s->word; /* the bug: the state is read before the item is queued */
			n.pushed = 1;
			n.kpc[0] = K_FIRST;
			mc_emit(em, lab(ACT_SUBMIT, K_READ), &n);
			return;
		}
		if (k == 0)
			n.n = 1;
		else
			n.irq = 1;
		n.kpc[k] = reads_first ? K_ACT : K_SECOND;
		break;
	case K_SECOND:
		if (k == 0) {
			n.kread[0] = s->word;
			n.kpc[0] = K_ACT;
		} else {
			n.events = 1; /* atomic_exchange(&events, 1) */
			n.kpc[1] = s->events ? K_DONE : K_READ;
		}
		break;
	case K_READ:
		n.kread[k] = s->word;
		n.kpc[k] = K_ACT;
		break;
	case K_ACT:
		n.kpc[k] = s->kread[k] == W_RUNNING  ? K_KICK_IE
		           : s->kread[k] == W_HALTED ? K_WAKE_BUMP
		                                     : K_DONE;
		break;
	case K_KICK_IE:
		if (c->mutant != KICK_MUT_NO_IMMEDIATE_EXIT)
			n.ie = 1;
		n.kpc[k] = K_KICK_SIG;
		break;
	case K_KICK_SIG:
		if (c->mutant != KICK_MUT_NO_SIGNAL)
			n.sig = 1;
		n.kpc[k] = K_DONE;
		break;
	case K_WAKE_BUMP:
		n.fword = (uint8_t)((s->fword + 1) & 3);
		n.kpc[k] = K_WAKE;
		break;
	case K_WAKE:
		n.sleeping = 0;
		n.kpc[k] = K_DONE;
		break;
	default:
		return;
	}
	mc_emit(em, lab(k ? ACT_EVENT : ACT_SUBMIT, s->kpc[k]), &n);
}

static void expand(void *ctx, const void *state, struct mc_emitter *em)
{
	const struct kick_config *c = ctx;
	const struct ks *s = state;

	expand_vcpu(c, s, em);
	expand_waker(c, s, 0, em);
	expand_waker(c, s, 1, em);
}

static bool goal(void *ctx, const void *state)
{
	const struct kick_config *c = ctx;
	const struct ks *s = state;

	return s->item_done && (c->mode != KICK_USER || s->irq_done);
}

static const char *const vpc_names[V_NPC] = {
        [V_CLEAR] = "vcpu: immediate_exit = 0",
        [V_LOOK] = "vcpu: looks for urgent work",
        [V_URG_IN] = "vcpu: state = in-vmm",
        [V_URG_RUN] = "vcpu: runs the urgent item",
        [V_URG_OUT] = "vcpu: state = running",
        [V_EVAL] = "vcpu: events = 0",
        [V_EVAL_IRQ] = "vcpu: looks at the interrupt",
        [V_ENTRY] = "vcpu: KVM_RUN",
        [V_GUEST] = "vcpu: in the guest",
        [V_EINTR] = "vcpu: KVM_RUN returns EINTR, eats the signal",
        [V_EXIT] = "vcpu: the guest exits (port I/O)",
        [V_HANDLE] = "vcpu: exit handled, state = running",
        [V_EXIT_HLT] = "vcpu: the guest executes HLT",
        [V_TO_RUNNING] = "vcpu: state = running",
        [V_BLOCK] = "vcpu: BLOCK: state = halted",
        [V_A_LOOK] = "vcpu (asleep): looks for urgent work",
        [V_A_URG] = "vcpu (asleep): runs the urgent item",
        [V_A_INT_N] = "vcpu (asleep): interrupted by work?",
        [V_A_INT_E] = "vcpu (asleep): interrupted by events?",
        [V_B_SEEN] = "vcpu (block): seen = futex word",
        [V_B_EVENTS] = "vcpu (block): looks at events",
        [V_B_WORK] = "vcpu (block): looks for work",
        [V_B_LATE] = "vcpu (block): late step (mutant)",
        [V_B_WAIT] = "vcpu (block): futex_wait",
        [V_SLEEP] = "vcpu: woken from the futex",
        [V_WAKE] = "vcpu: leaves the sleep, state = running",
};

/* The waker steps; "submitter" or "irq" goes in front. */
static const char *const kpc_names[K_NPC] = {
        [K_READ] = "reads the state word",  [K_ACT] = "chooses",
        [K_KICK_IE] = "immediate_exit = 1", [K_KICK_SIG] = "kick signal",
        [K_WAKE_BUMP] = "futex word++",     [K_WAKE] = "FUTEX_WAKE",
};

static void show_label(void *ctx, mc_label l, char *buf, size_t len)
{
	unsigned int actor = l >> 8, pc = l & 0xff;
	const char *name = NULL;

	(void)ctx;
	if (actor == ACT_VCPU && pc < V_NPC)
		name = vpc_names[pc];
	else if (actor == ACT_SUBMIT && pc <= K_SECOND)
		name = pc == K_FIRST ? "queues the urgent item" : "reads the state word";
	else if (actor == ACT_EVENT && pc <= K_SECOND)
		name = pc == K_FIRST ? "makes the interrupt pending" : "events = 1 (exchange)";
	else if (actor <= ACT_EVENT && pc < K_NPC)
		name = kpc_names[pc];
	snprintf(buf, len, "%s%s",
	         actor == ACT_SUBMIT  ? "submitter: "
	         : actor == ACT_EVENT ? "irq: "
	                              : "",
	         name ? name : "?");
}

static void show_state(void *ctx, const void *state, char *buf, size_t len)
{
	static const char *const words[] = {"running", "in-vmm", "halted"};
	const struct ks *s = state;

	(void)ctx;
	snprintf(
	        buf, len,
	        "state=%s ie=%u sig=%u guest-halted=%u futex=%u/%u%s events=%u irq=%u/%u item=%u/%u",
	        words[s->word % 3], s->ie, s->sig, s->halted, s->fword, s->seen,
	        s->sleeping ? " sleeping" : "", s->events, s->irq, s->irq_done, s->n, s->item_done);
}

void kick_model(const struct kick_config *cfg, struct mc_model *m)
{
	memset(m, 0, sizeof(*m));
	m->state_size = sizeof(struct ks);
	m->ctx = (void *)cfg;
	m->initial = initial;
	m->expand = expand;
	m->goal = goal;
	m->goal_text = cfg->mode == KICK_USER ? "the item runs and the interrupt is delivered"
	                                      : "the item runs";
	m->show_label = show_label;
	m->show_state = show_state;
}
