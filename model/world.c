/* The model checker's world: transitions through the real core, invariants, printing. */
#include "model/world.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/lapic.h"

/* Guest bits (struct w_cpu.g). */
#define G_IF        0x01u /* RFLAGS.IF */
#define G_INTR      0x02u /* an interrupt is pending at the local APIC (above the PPR) */
#define G_IN_INTR   0x04u /* the interrupt handler runs (IF off until its IRET) */
#define G_IN_NMI    0x08u /* the NMI handler runs */
#define G_NEED_SIPI 0x10u /* ghost: INIT reset the registers; no code may run before a SIPI */
#define G_SIPI_KEPT 0x20u /* mutant W_MUT_SIPI_IN_SMM: a SIPI kept across SMM */

struct w_cpu {
	struct cvm_lc lc;
	uint8_t pc, g, pad;
};

struct w_state {
	struct w_cpu cpu[W_MAX_CPUS];
	uint8_t mem; /* guest memory flags */
	uint8_t smi, nmi, intr;
};

_Static_assert(sizeof(struct w_state) == 28, "w_state must stay compact and padding-free");

/* Labels: kind | cpu << 4 | action << 8 | op << 16 | disposition << 24. */
enum { L_STEP = 0, L_ENV_SMI, L_ENV_NMI, L_ENV_INTR };
#define OP_RSM   0xf0u
#define OP_IRETN 0xf1u
#define OP_EOI   0xf2u
#define OP_NONE  0xffu

static mc_label mklabel(unsigned int kind, unsigned int cpu, unsigned int act, unsigned int op,
                        unsigned int disp)
{
	return kind | cpu << 4 | act << 8 | op << 16 | disp << 24;
}

static const char *const mutant_names[W_NR_MUTANTS] = {
        "none", "sipi-in-smm", "nmi-nest", "lose-init", "deaf-halt",
};

const char *w_mutant_name(unsigned int m)
{
	return m < W_NR_MUTANTS ? mutant_names[m] : "?";
}

int w_mutant_parse(const char *s)
{
	for (unsigned int i = 0; i < W_NR_MUTANTS; i++)
		if (!strcmp(s, mutant_names[i]))
			return (int)i;
	return -1;
}

__attribute__((format(printf, 2, 3))) static void violate(struct w_world *w, const char *msg, ...)
{
	va_list ap;

	if (!w->viol[0]) {
		va_start(ap, msg);
		vsnprintf(w->viol, sizeof(w->viol), msg, ap);
		va_end(ap);
	}
}

/* ---- IPIs through the real ICR, routing and acceptance ---- */

static bool sipi_may_change(const struct cvm_lc *lc)
{
	return lc->mp == CVM_MP_INIT_RECEIVED ||
	       (lc->mp == CVM_MP_AP_RESET_HOLD && (lc->flags & CVM_LC_HOLD_INIT));
}

static bool can_take_irq(const struct cvm_lc *lc)
{
	return lc->mp == CVM_MP_RUNNABLE || lc->mp == CVM_MP_HALTED;
}

/* A message reaches vCPU t: lifecycle signals via cvm_apic_accept(), fixed ones as the pending bit. */
static enum cvm_disp deliver(struct w_world *w, struct w_state *s, unsigned int t,
                             const struct cvm_apic_msg *m)
{
	struct w_cpu *cpu = &s->cpu[t], pre = *cpu;
	enum cvm_disp d;

	if (m->mode == CVM_DM_FIXED || m->mode == CVM_DM_LOWEST) {
		if (!can_take_irq(&cpu->lc))
			return CVM_DISP_DISCARDED; /* software-disabled APIC after INIT */
		d = (cpu->g & G_INTR) ? CVM_DISP_MERGED : CVM_DISP_ACCEPTED;
		cpu->g |= G_INTR;
		return d;
	}
	w->smi_in[t] += m->mode == CVM_DM_SMI;
	w->nmi_in[t] += m->mode == CVM_DM_NMI;
	w->sipi_in[t] += m->mode == CVM_DM_STARTUP;
	d = cvm_apic_accept(&w->apic[t], &cpu->lc, &w->ctr[t], m);

	if (m->mode == CVM_DM_STARTUP && w->mutant == W_MUT_SIPI_IN_SMM &&
	    cvm_lc_in_smm(&cpu->lc) && (cpu->lc.pend & CVM_LC_P_INIT)) {
		cpu->g |= G_SIPI_KEPT;
		cpu->lc.sipi_vector = m->vector;
	}
	if (m->mode == CVM_DM_STARTUP && !sipi_may_change(&pre.lc) &&
	    memcmp(&pre, cpu, sizeof(pre)))
		violate(w, "a SIPI changed cpu%u outside wait-for-SIPI", t);
	if (m->mode == CVM_DM_INIT && cvm_lc_in_smm(&pre.lc) && !(cpu->lc.pend & CVM_LC_P_INIT))
		violate(w, "an INIT that arrived in SMM was not latched on cpu%u", t);
	return d;
}

static enum cvm_disp send_ipi(struct w_world *w, struct w_state *s, unsigned int from,
                              const struct w_insn *in, unsigned int mode)
{
	struct cvm_lapic *a = &w->apic[from];
	struct cvm_lapic_fx fx;
	cvm_apic_set set;
	enum cvm_disp d = CVM_DISP_DISCARDED;
	unsigned int t;

	cvm_lapic_mmio_write(a, NULL, CVM_APIC_ICR_HI, (uint32_t)in->a << 24, 0, &fx);
	cvm_lapic_mmio_write(a, NULL, CVM_APIC_ICR_LO,
	                     (mode == CVM_DM_STARTUP || mode == CVM_DM_FIXED ? in->b : 0) |
	                             mode << 8 | 0x4000u | (uint32_t)(in->c & 3u) << 18,
	                     0, &fx);
	if (!(fx.flags & CVM_FX_IPI))
		return d;
	cvm_apic_resolve(&w->bus, &fx.ipi, NULL, NULL, set);
	cvm_bitmap_for_each(t, set, w->sc.ncpus) d = deliver(w, s, t, &fx.ipi);
	return d;
}

/* ---- One vCPU step ---- */

static struct cvm_lc_inputs inputs(const struct w_world *w, const struct w_cpu *cpu)
{
	struct cvm_lc_inputs in = {
	        .intr_pending = cpu->g & G_INTR,
	        .intr_window = (cpu->g & G_IF) && !(cpu->g & (G_IN_INTR | G_IN_NMI)),
	};
	if (w->mutant == W_MUT_DEAF_HALT && cpu->lc.mp == CVM_MP_HALTED)
		in.intr_pending = false;
	return in;
}

static bool protected_cpu(const struct w_world *w, unsigned int c)
{
	return (w->sc.protected_mask >> c) & 1u;
}

/* Executes one guest instruction (or handler step) of cpu c. False: it cannot move (spins, ends). */
static bool exec(struct w_world *w, struct w_state *s, unsigned int c, unsigned int *op)
{
	struct w_cpu *cpu = &s->cpu[c];
	const struct w_insn *in;

	if (cvm_lc_in_smm(&cpu->lc)) {
		/* The SMI handler: RSM. */
		if (w->mutant == W_MUT_LOSE_INIT)
			cpu->lc.pend &= (uint8_t)~CVM_LC_P_INIT;
		cvm_lc_rsm(&cpu->lc, &w->ctr[c]);
		if ((cpu->g & G_SIPI_KEPT) && cpu->lc.mp == CVM_MP_INIT_RECEIVED)
			cpu->lc.mp = CVM_MP_SIPI_RECEIVED;
		cpu->g &= (uint8_t)~G_SIPI_KEPT;
		*op = OP_RSM;
		return true;
	}
	if (cpu->g & G_IN_NMI) {
		cvm_lc_iret(&cpu->lc);
		cpu->g &= (uint8_t)~G_IN_NMI;
		*op = OP_IRETN;
		return true;
	}
	if (cpu->g & G_IN_INTR) {
		cpu->g &= (uint8_t)~G_IN_INTR; /* EOI, IRET */
		*op = OP_EOI;
		return true;
	}
	if (cpu->g & G_NEED_SIPI) {
		violate(w, "cpu%u runs guest code after INIT without a SIPI", c);
		*op = OP_NONE;
		return true;
	}
	if (cpu->pc >= w->sc.prog_len[c])
		return false;
	in = &w->sc.prog[c][cpu->pc];
	*op = cpu->pc;
	switch (in->op) {
	case W_SEND_INIT:
		w->disp = (uint8_t)send_ipi(w, s, c, in, CVM_DM_INIT);
		break;
	case W_SEND_SIPI:
		w->disp = (uint8_t)send_ipi(w, s, c, in, CVM_DM_STARTUP);
		break;
	case W_SEND_NMI:
		w->disp = (uint8_t)send_ipi(w, s, c, in, CVM_DM_NMI);
		break;
	case W_SEND_SMI:
		w->disp = (uint8_t)send_ipi(w, s, c, in, CVM_DM_SMI);
		break;
	case W_SEND_FIXED:
		w->disp = (uint8_t)send_ipi(w, s, c, in, CVM_DM_FIXED);
		break;
	case W_SET_FLAG:
		s->mem |= (uint8_t)(1u << in->a);
		break;
	case W_CLEAR_FLAG:
		s->mem &= (uint8_t) ~(1u << in->a);
		break;
	case W_WAIT_FLAG:
		if (!(s->mem & (1u << in->a)))
			return false; /* spinning changes nothing */
		break;
	case W_RETRY_SIPI:
		if (s->mem & (1u << in->c))
			break;
		w->disp = (uint8_t)send_ipi(w, s, c, &(struct w_insn){.a = in->a, .b = in->b},
		                            CVM_DM_STARTUP);
		return true; /* stays on this instruction */
	case W_JMP_IF:
		if (s->mem & (1u << in->a)) {
			cpu->pc = in->b;
			return true;
		}
		break;
	case W_JMP:
		cpu->pc = in->b;
		return true;
	case W_HLT:
		cvm_lc_hlt(&cpu->lc, &w->ctr[c]);
		break;
	case W_HOLD:
		cvm_lc_ap_reset_hold(&cpu->lc, &w->ctr[c]);
		break;
	case W_STI:
		cpu->g |= G_IF;
		break;
	case W_CLI:
		cpu->g &= (uint8_t)~G_IF;
		break;
	case W_DONE:
		return false;
	default:
		break;
	}
	cpu->pc++;
	return true;
}

/* Carries out action `a` of cpu c. False when the vCPU does not move (blocked). */
static bool perform(struct w_world *w, struct w_state *s, unsigned int c, struct cvm_lc_action a,
                    unsigned int *op)
{
	struct w_cpu *cpu = &s->cpu[c];
	bool noregs = a.flags & CVM_ACTF_NO_REGS;

	switch (a.kind) {
	case CVM_ACT_INIT_RESET:
		if (protected_cpu(w, c) && !noregs)
			violate(w, "the host would write the registers of protected cpu%u (INIT)",
			        c);
		cpu->g &= (uint8_t)~G_INTR; /* the local APIC is reset */
		if (!noregs) {
			cpu->g = 0;
			if (a.flags & CVM_ACTF_BSP) {
				cpu->pc = w->sc.start_pc[c];
			} else {
				cpu->pc = W_PC_NONE;
				cpu->g |= G_NEED_SIPI;
			}
		}
		return true;
	case CVM_ACT_SIPI_ENTRY:
		if (protected_cpu(w, c) && !noregs)
			violate(w, "the host would write the registers of protected cpu%u (SIPI)",
			        c);
		cpu->g &= (uint8_t)~G_NEED_SIPI;
		if (!noregs) {
			cpu->pc = a.vector;
			cpu->g &= (uint8_t) ~(G_IF | G_IN_INTR | G_IN_NMI);
		} else if (a.flags & CVM_ACTF_FIRST) {
			cpu->pc = w->sc.start_pc[c];
		}
		return true;
	case CVM_ACT_HOLD_RELEASE:
	case CVM_ACT_SMM_ENTER:
		return true;
	case CVM_ACT_INJECT_NMI:
		if (cpu->g & G_IN_NMI)
			violate(w, "an NMI was injected into cpu%u while its NMI handler runs", c);
		cpu->g |= G_IN_NMI;
		if (w->mutant == W_MUT_NMI_NEST)
			cpu->lc.flags &= (uint8_t)~CVM_LC_NMI_MASKED;
		return true;
	case CVM_ACT_INJECT_INTR:
		cpu->g = (uint8_t)((cpu->g & ~G_INTR) | G_IN_INTR);
		return true;
	case CVM_ACT_RUN:
		return exec(w, s, c, op);
	default: /* BLOCK, PAUSE, STOP */
		return false;
	}
}

/* ---- Transition invariants ---- */

static uint64_t sum(const struct cvm_counters *c, enum cvm_counter a, enum cvm_counter b)
{
	uint64_t n = 0;
	for (unsigned int i = a; i <= b; i++)
		n += c->n[i];
	return n;
}

struct snap {
	uint64_t smi, nmi, sipi;
};

static void take_snap(const struct w_world *w, struct snap *sn)
{
	for (unsigned int c = 0; c < w->sc.ncpus; c++) {
		const struct cvm_counters *k = &w->ctr[c];
		sn[c].smi = k->n[CVM_CTR_SMI_TAKEN] + k->n[CVM_CTR_SMI_MERGED] +
		            k->n[CVM_CTR_SMI_CLEARED_BY_INIT];
		sn[c].nmi = k->n[CVM_CTR_NMI_INJECTED] + k->n[CVM_CTR_NMI_MERGED] +
		            k->n[CVM_CTR_NMI_CLEARED_BY_INIT];
		sn[c].sipi = sum(k, CVM_CTR_SIPI_ACCEPTED, CVM_CTR_SIPI_DISCARDED_OTHER);
	}
}

static int pending(const struct w_cpu *cpu, unsigned int bit)
{
	return (cpu->lc.pend & bit) ? 1 : 0;
}

/*
 * Every SMI, NMI and SIPI that arrived is accounted for (taken, merged,
 * cleared, discarded, or still pending: at most one of each kind); an INIT
 * latched in SMM is only ever taken, never lost.
 */
static void check_transition(struct w_world *w, const struct w_state *pre,
                             const struct w_state *post, const struct snap *before)
{
	struct snap after[W_MAX_CPUS];

	take_snap(w, after);
	for (unsigned int c = 0; c < w->sc.ncpus; c++) {
		const struct w_cpu *a = &pre->cpu[c], *b = &post->cpu[c];
		int64_t dsmi = pending(b, CVM_LC_P_SMI) - pending(a, CVM_LC_P_SMI);
		int64_t dnmi = pending(b, CVM_LC_P_NMI) - pending(a, CVM_LC_P_NMI);

		if ((int64_t)w->smi_in[c] != (int64_t)(after[c].smi - before[c].smi) + dsmi)
			violate(w, "an SMI to cpu%u was neither taken, latched (once) nor counted",
			        c);
		if ((int64_t)w->nmi_in[c] != (int64_t)(after[c].nmi - before[c].nmi) + dnmi)
			violate(w, "an NMI to cpu%u was neither taken, latched (once) nor counted",
			        c);
		if (w->sipi_in[c] != after[c].sipi - before[c].sipi)
			violate(w, "a SIPI to cpu%u was neither accepted nor counted as discarded",
			        c);
		if ((a->lc.pend & CVM_LC_P_INIT) && !(b->lc.pend & CVM_LC_P_INIT) &&
		    !(b->lc.flags & CVM_LC_RESET_DUE))
			violate(w, "an INIT latched in SMM was lost on cpu%u", c);
	}
}

/* Runs `fn` on a copy of `s`, checks the transition, and emits it (or the violation). */
static void transition(struct w_world *w, const struct w_state *s, struct mc_emitter *em,
                       unsigned int kind, unsigned int c)
{
	struct w_state next = *s;
	struct snap before[W_MAX_CPUS];
	struct cvm_lc_action a = {.kind = CVM_ACT_RUN};
	unsigned int op = OP_NONE;
	struct w_cpu *cpu = &next.cpu[c];
	struct cvm_lc_inputs in;
	bool moved = true;

	take_snap(w, before);
	memset(w->smi_in, 0, sizeof(w->smi_in));
	memset(w->nmi_in, 0, sizeof(w->nmi_in));
	memset(w->sipi_in, 0, sizeof(w->sipi_in));
	w->viol[0] = 0;
	w->disp = 0;

	switch (kind) {
	case L_STEP:
		in = inputs(w, cpu);
		a = cvm_lc_next(&cpu->lc, &w->ctr[c], &in);
		moved = perform(w, &next, c, a, &op);
		break;
	case L_ENV_SMI:
		next.smi--;
		w->smi_in[c]++;
		w->disp = (uint8_t)cvm_lc_smi(&cpu->lc, &w->ctr[c]);
		break;
	case L_ENV_NMI:
		next.nmi--;
		w->nmi_in[c]++;
		w->disp = (uint8_t)cvm_lc_nmi(&cpu->lc, &w->ctr[c]);
		break;
	default:
		next.intr--;
		w->disp = (uint8_t)deliver(
		        w, &next, c, &(struct cvm_apic_msg){.mode = CVM_DM_FIXED, .vector = 0x40});
		break;
	}
	if (!moved)
		return;
	check_transition(w, s, &next, before);
	mc_label l = mklabel(kind, c, a.kind, op, w->disp);
	if (w->viol[0])
		mc_violation(em, l, &next, "%s", w->viol);
	else
		mc_emit(em, l, &next);
}

static void expand(void *ctx, const void *state, struct mc_emitter *em)
{
	struct w_world *w = ctx;
	const struct w_state *s = state;

	/* vCPU steps first: traces then show the guests' own progress before outside events. */
	for (unsigned int c = 0; c < w->sc.ncpus; c++)
		transition(w, s, em, L_STEP, c);
	for (unsigned int c = 0; c < w->sc.ncpus; c++) {
		if (s->smi && ((w->sc.smi_mask >> c) & 1u))
			transition(w, s, em, L_ENV_SMI, c);
		if (s->nmi && ((w->sc.nmi_mask >> c) & 1u))
			transition(w, s, em, L_ENV_NMI, c);
		if (s->intr && ((w->sc.intr_mask >> c) & 1u))
			transition(w, s, em, L_ENV_INTR, c);
	}
}

/* ---- State invariants ---- */

/* The rules' own statement of "something can be delivered", independent of cvm_lc_next(). */
static const char *deliverable(const struct w_cpu *cpu)
{
	const struct cvm_lc *lc = &cpu->lc;

	if (lc->flags & CVM_LC_RESET_DUE)
		return "INIT";
	if ((lc->pend & CVM_LC_P_SMI) && !(lc->flags & CVM_LC_SMM))
		return "SMI";
	if ((lc->pend & CVM_LC_P_NMI) && !(lc->flags & CVM_LC_NMI_MASKED))
		return "NMI";
	if ((cpu->g & G_INTR) && (cpu->g & G_IF) && !(cpu->g & (G_IN_INTR | G_IN_NMI)))
		return "interrupt";
	return NULL;
}

static bool check_state(void *ctx, const void *state, char *msg, size_t len)
{
	struct w_world *w = ctx;
	const struct w_state *s = state;

	for (unsigned int c = 0; c < w->sc.ncpus; c++) {
		const struct w_cpu *cpu = &s->cpu[c];
		const char *what = deliverable(cpu);

		if (cvm_lc_in_smm(&cpu->lc) && cvm_lc_waiting(&cpu->lc)) {
			snprintf(msg, len, "cpu%u is in SMM while waiting for SIPI", c);
			return false;
		}
		if (cpu->lc.mp == CVM_MP_HALTED && what) {
			struct cvm_lc copy = cpu->lc;
			struct cvm_lc_inputs in = inputs(w, cpu);
			if (cvm_lc_next(&copy, NULL, &in).kind == CVM_ACT_BLOCK) {
				snprintf(msg, len,
				         "cpu%u stays halted although an %s is deliverable", c,
				         what);
				return false;
			}
		}
	}
	return true;
}

static bool goal(void *ctx, const void *state)
{
	const struct w_world *w = ctx;
	return (((const struct w_state *)state)->mem >> w->sc.goal_flag) & 1u;
}

/* ---- Printing ---- */

static const char *mp_short(unsigned int mp)
{
	switch (mp) {
	case CVM_MP_RUNNABLE:
		return "RUN";
	case CVM_MP_UNINITIALIZED:
		return "UNINIT";
	case CVM_MP_INIT_RECEIVED:
		return "WAIT-SIPI";
	case CVM_MP_HALTED:
		return "HALT";
	case CVM_MP_SIPI_RECEIVED:
		return "SIPI-RCVD";
	case CVM_MP_AP_RESET_HOLD:
		return "HOLD";
	default:
		return cvm_mp_state_name(mp);
	}
}

static const char *const op_names[] = {
        [W_NOP] = "nop",
        [W_SEND_INIT] = "send INIT",
        [W_SEND_SIPI] = "send SIPI",
        [W_SEND_NMI] = "send NMI",
        [W_SEND_SMI] = "send SMI",
        [W_SEND_FIXED] = "send IRQ",
        [W_SET_FLAG] = "set flag",
        [W_CLEAR_FLAG] = "clear flag",
        [W_WAIT_FLAG] = "flag set?",
        [W_RETRY_SIPI] = "flag set? else send SIPI",
        [W_JMP_IF] = "jump if flag",
        [W_JMP] = "jump",
        [W_HLT] = "HLT",
        [W_HOLD] = "AP reset hold",
        [W_STI] = "STI",
        [W_CLI] = "CLI",
        [W_DONE] = "done",
};

static const char *const disp_names[] = {"discarded", "accepted", "latched", "merged", "extint"};

static void show_label(void *ctx, mc_label l, char *buf, size_t len)
{
	const struct w_world *w = ctx;
	unsigned int kind = l & 0xfu, c = (l >> 4) & 0xfu, act = (l >> 8) & 0xffu;
	unsigned int op = (l >> 16) & 0xffu, disp = (l >> 24) & 7u;
	const struct w_insn *in;

	switch (kind) {
	case L_ENV_SMI:
	case L_ENV_NMI:
	case L_ENV_INTR:
		snprintf(buf, len, "env: %s -> cpu%u (%s)",
		         kind == L_ENV_SMI   ? "SMI"
		         : kind == L_ENV_NMI ? "NMI"
		                             : "IRQ",
		         c, disp_names[disp]);
		return;
	default:
		break;
	}
	if (act != CVM_ACT_RUN) {
		snprintf(buf, len, "cpu%u: %s", c, cvm_lc_act_name(act));
		return;
	}
	if (op == OP_RSM || op == OP_IRETN || op == OP_EOI || op == OP_NONE) {
		snprintf(buf, len, "cpu%u: %s", c,
		         op == OP_RSM     ? "RSM"
		         : op == OP_IRETN ? "IRET (NMI handler)"
		         : op == OP_EOI   ? "EOI, IRET (IRQ handler)"
		                          : "runs with no program");
		return;
	}
	in = &w->sc.prog[c][op];
	switch (in->op) {
	case W_SEND_INIT:
	case W_SEND_NMI:
	case W_SEND_SMI:
	case W_SEND_FIXED:
	case W_SEND_SIPI:
	case W_RETRY_SIPI:
		if (in->c && in->op != W_RETRY_SIPI)
			snprintf(buf, len, "cpu%u: %s -> %s (%s)", c, op_names[in->op],
			         in->c == CVM_SH_ALL_BUT_SELF ? "all but self" : "all",
			         disp_names[disp]);
		else
			snprintf(buf, len, "cpu%u: %s -> cpu%u (%s)", c, op_names[in->op], in->a,
			         disp_names[disp]);
		return;
	case W_SET_FLAG:
	case W_CLEAR_FLAG:
	case W_WAIT_FLAG:
	case W_JMP_IF:
		snprintf(buf, len, "cpu%u: %s %u", c, op_names[in->op], in->a);
		return;
	default:
		snprintf(buf, len, "cpu%u: %s", c, op_names[in->op < W_DONE + 1 ? in->op : 0]);
		return;
	}
}

static void show_state(void *ctx, const void *state, char *buf, size_t len)
{
	const struct w_world *w = ctx;
	const struct w_state *s = state;
	size_t n = 0;

	for (unsigned int c = 0; c < w->sc.ncpus && n < len; c++) {
		const struct w_cpu *cpu = &s->cpu[c];
		n += (size_t)snprintf(buf + n, len - n, "%s%s%s%s%s%s", c ? " | " : "",
		                      mp_short(cpu->lc.mp), cvm_lc_in_smm(&cpu->lc) ? "+SMM" : "",
		                      (cpu->lc.pend & CVM_LC_P_INIT) ? " init" : "",
		                      (cpu->lc.pend & CVM_LC_P_SMI) ? " smi" : "",
		                      (cpu->lc.pend & CVM_LC_P_NMI) ? " nmi" : "");
		if (n < len && cpu->pc != W_PC_NONE)
			n += (size_t)snprintf(buf + n, len - n, " @%u", cpu->pc);
	}
	if (n < len)
		snprintf(buf + n, len - n, " | flags %02x", s->mem);
}

/* ---- Set-up ---- */

static void initial(void *ctx, void *state)
{
	struct w_world *w = ctx;
	struct w_state *s = state;

	memset(s, 0, sizeof(*s));
	for (unsigned int c = 0; c < w->sc.ncpus; c++) {
		struct w_cpu *cpu = &s->cpu[c];
		unsigned int opts = (c == 0 ? CVM_LC_OPT_BSP : 0) |
		                    (protected_cpu(w, c) ? CVM_LC_OPT_PROTECTED : 0);
		struct cvm_lc_inputs none = {0};

		cvm_lc_power_on(&cpu->lc, opts);
		cpu->pc = w->sc.start_pc[c];
		if (c == 0)
			continue;
		if ((w->sc.running_mask >> c) & 1u) {
			/* Booted earlier (INIT-SIPI already done): running its program. */
			cvm_lc_init(&cpu->lc, NULL);
			cvm_lc_next(&cpu->lc, NULL, &none);
			cvm_lc_sipi(&cpu->lc, NULL, 0);
			cvm_lc_next(&cpu->lc, NULL, &none);
		} else {
			cpu->g = G_NEED_SIPI;
			if (!protected_cpu(w, c))
				cpu->pc = W_PC_NONE;
		}
	}
	s->smi = w->sc.smi;
	s->nmi = w->sc.nmi;
	s->intr = w->sc.intr;
}

int w_world_init(struct w_world *w, const struct w_scenario *sc, enum w_mutant mut)
{
	if (sc->ncpus < 1 || sc->ncpus > W_MAX_CPUS || sc->goal_flag > 7 || mut >= W_NR_MUTANTS)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->sc = *sc;
	w->mutant = mut;
	if (cvm_apic_bus_init(&w->bus, sc->ncpus))
		return -EINVAL;
	for (unsigned int c = 0; c < sc->ncpus; c++) {
		struct cvm_lapic_config cfg = {.apic_id = c, .bsp = c == 0, .vcpu = (uint16_t)c};
		for (unsigned int i = 0; i < sc->prog_len[c]; i++) {
			const struct w_insn *in = &sc->prog[c][i];
			if (in->op > W_DONE || (in->op >= W_SEND_INIT && in->op <= W_SEND_FIXED &&
			                        in->a >= sc->ncpus && !in->c))
				return -EINVAL;
		}
		cvm_lapic_power_on(&w->apic[c], &cfg);
		cvm_apic_bus_update(&w->bus, c, &w->apic[c]);
	}
	return 0;
}

void w_model(struct w_world *w, struct mc_model *m)
{
	*m = (struct mc_model){
	        .state_size = sizeof(struct w_state),
	        .ctx = w,
	        .initial = initial,
	        .expand = expand,
	        .check_state = check_state,
	        .goal = w->sc.goal_flag >= 0 ? goal : NULL,
	        .goal_text = w->sc.goal_text,
	        .show_label = show_label,
	        .show_state = show_state,
	};
}
