/*
 * Fuzz target: one vCPU's lifecycle state machine (core/lifecycle.h) driven by
 * arbitrary event sequences and cvm_lc_next() calls; after every step the
 * rules of docs/core.md are checked against the state, the counters and the
 * returned action.
 */
#include <string.h>

#include "core/lifecycle.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"

/* The vCPU under test and what the harness knows independently of it. */
struct lc_world {
	struct cvm_lc s;
	struct cvm_counters c;
	unsigned int opts;
	uint64_t smi_in, nmi_in, sipi_in; /* signals sent */
	bool stopped;                     /* a stop was requested: every action is STOP */
	bool need_sipi; /* INIT reset an AP's registers: no guest code before a SIPI entry */
};

static bool has(const struct cvm_lc *s, uint8_t flag)
{
	return s->flags & flag;
}

static bool pend(const struct cvm_lc *s, uint8_t bit)
{
	return s->pend & bit;
}

static uint64_t ctr(const struct lc_world *w, enum cvm_counter id)
{
	return w->c.n[id];
}

/* A SIPI acts only in wait-for-SIPI, or in AP reset hold after an INIT, never in SMM. */
static bool sipi_applies(const struct cvm_lc *s)
{
	if (has(s, CVM_LC_SMM))
		return false;
	return s->mp == CVM_MP_INIT_RECEIVED ||
	       (s->mp == CVM_MP_AP_RESET_HOLD && has(s, CVM_LC_HOLD_INIT));
}

/* Invariants of every reachable state (docs/core.md, "The rules, as implemented"). */
static void check_state(const struct lc_world *w)
{
	const struct cvm_lc *s = &w->s;
	uint64_t sipi_out = ctr(w, CVM_CTR_SIPI_ACCEPTED);

	FZ_CHECK(s->mp == CVM_MP_RUNNABLE || s->mp == CVM_MP_UNINITIALIZED ||
	                 s->mp == CVM_MP_INIT_RECEIVED || s->mp == CVM_MP_HALTED ||
	                 s->mp == CVM_MP_SIPI_RECEIVED || s->mp == CVM_MP_AP_RESET_HOLD,
	         "mp state %u", s->mp);
	FZ_CHECK(s->reserved == 0, "reserved byte %#x", s->reserved);
	FZ_CHECK(!(has(s, CVM_LC_SMM) && cvm_lc_waiting(s)), "in SMM while waiting (mp %s)",
	         cvm_mp_state_name(s->mp));
	FZ_CHECK(!pend(s, CVM_LC_P_INIT) || has(s, CVM_LC_SMM) || pend(s, CVM_LC_P_SMI),
	         "an INIT is latched outside SMM with no SMI ahead of it (flags %#x pend %#x)",
	         s->flags, s->pend);
	FZ_CHECK(!has(s, CVM_LC_HOLD_INIT) || s->mp == CVM_MP_AP_RESET_HOLD ||
	                 s->mp == CVM_MP_SIPI_RECEIVED,
	         "HOLD_INIT in mp %s", cvm_mp_state_name(s->mp));
	FZ_CHECK(!has(s, CVM_LC_SMM_NMI) || has(s, CVM_LC_SMM), "saved NMI blocking outside SMM");
	/* An INIT was taken: the vCPU is where INIT puts it until INIT_RESET is done. */
	FZ_CHECK(!has(s, CVM_LC_RESET_DUE) || s->mp == CVM_MP_INIT_RECEIVED ||
	                 s->mp == CVM_MP_SIPI_RECEIVED || s->mp == CVM_MP_AP_RESET_HOLD ||
	                 (s->mp == CVM_MP_RUNNABLE && has(s, CVM_LC_BSP)),
	         "INIT reset due in mp %s (flags %#x)", cvm_mp_state_name(s->mp), s->flags);
	FZ_CHECK(has(s, CVM_LC_BSP) == !!(w->opts & CVM_LC_OPT_BSP), "BSP flag changed");
	FZ_CHECK(has(s, CVM_LC_PROTECTED) == !!(w->opts & CVM_LC_OPT_PROTECTED),
	         "PROTECTED flag changed");

	/* Conservation: every signal is taken, merged, cleared by INIT, discarded or pending. */
	FZ_CHECK(w->smi_in == ctr(w, CVM_CTR_SMI_TAKEN) + ctr(w, CVM_CTR_SMI_MERGED) +
	                              ctr(w, CVM_CTR_SMI_CLEARED_BY_INIT) + pend(s, CVM_LC_P_SMI),
	         "SMIs in %llu, not accounted for", (unsigned long long)w->smi_in);
	FZ_CHECK(w->nmi_in == ctr(w, CVM_CTR_NMI_INJECTED) + ctr(w, CVM_CTR_NMI_MERGED) +
	                              ctr(w, CVM_CTR_NMI_CLEARED_BY_INIT) + pend(s, CVM_LC_P_NMI),
	         "NMIs in %llu, not accounted for", (unsigned long long)w->nmi_in);
	for (unsigned int i = CVM_CTR_SIPI_DISCARDED_SMM; i <= CVM_CTR_SIPI_DISCARDED_OTHER; i++)
		sipi_out += w->c.n[i];
	FZ_CHECK(w->sipi_in == sipi_out, "SIPIs in %llu, accounted %llu",
	         (unsigned long long)w->sipi_in, (unsigned long long)sipi_out);
}

static void check_init(const struct cvm_lc *pre, const struct cvm_lc *s, enum cvm_disp d)
{
	if (has(pre, CVM_LC_SMM)) {
		FZ_CHECK(pend(s, CVM_LC_P_INIT) && s->mp == pre->mp &&
		                 (d == CVM_DISP_LATCHED || d == CVM_DISP_MERGED),
		         "INIT in SMM not latched (disp %d)", d);
		return;
	}
	FZ_CHECK(d == CVM_DISP_ACCEPTED && has(s, CVM_LC_RESET_DUE), "INIT not taken (disp %d)", d);
	FZ_CHECK(!pend(s, CVM_LC_P_SMI | CVM_LC_P_NMI | CVM_LC_P_INIT) &&
	                 !has(s, CVM_LC_NMI_MASKED),
	         "INIT left a signal pending or NMIs blocked (flags %#x pend %#x)", s->flags,
	         s->pend);
	if (pre->mp == CVM_MP_AP_RESET_HOLD || has(pre, CVM_LC_HOLD_INIT))
		FZ_CHECK(s->mp == CVM_MP_AP_RESET_HOLD && has(s, CVM_LC_HOLD_INIT),
		         "INIT released an AP reset hold (mp %s)", cvm_mp_state_name(s->mp));
	else if (has(s, CVM_LC_BSP))
		FZ_CHECK(s->mp == CVM_MP_RUNNABLE, "INIT left the BSP in %s",
		         cvm_mp_state_name(s->mp));
	else
		FZ_CHECK(s->mp == CVM_MP_INIT_RECEIVED, "INIT left an AP in %s",
		         cvm_mp_state_name(s->mp));
}

static void check_sipi(const struct cvm_lc *pre, const struct cvm_lc *s, enum cvm_disp d,
                       uint8_t vector)
{
	if (!sipi_applies(pre)) {
		FZ_CHECK(d == CVM_DISP_DISCARDED && !memcmp(pre, s, sizeof(*s)),
		         "a SIPI changed the vCPU outside wait-for-SIPI (mp %s, disp %d)",
		         cvm_mp_state_name(pre->mp), d);
		return;
	}
	FZ_CHECK(d == CVM_DISP_ACCEPTED && s->mp == CVM_MP_SIPI_RECEIVED &&
	                 s->sipi_vector == vector,
	         "SIPI %#x in wait-for-SIPI not accepted (disp %d, mp %s)", vector, d,
	         cvm_mp_state_name(s->mp));
}

/* Something the vCPU would take now if it ran: the rules' own notion of "deliverable". */
static bool deliverable(const struct cvm_lc *s, const struct cvm_lc_inputs *in)
{
	return (pend(s, CVM_LC_P_SMI) && !has(s, CVM_LC_SMM)) ||
	       (pend(s, CVM_LC_P_NMI) && !has(s, CVM_LC_NMI_MASKED)) ||
	       (in->intr_pending && in->intr_window);
}

static void check_next(struct lc_world *w, const struct cvm_lc *pre, const struct cvm_lc_inputs *in,
                       struct cvm_lc_action a)
{
	const struct cvm_lc *s = &w->s;
	bool regs = !(a.flags & CVM_ACTF_NO_REGS);

	if (w->stopped) {
		FZ_CHECK(a.kind == CVM_ACT_STOP, "action %s after a stop request",
		         cvm_lc_act_name(a.kind));
		return;
	}
	FZ_CHECK(a.kind != CVM_ACT_STOP, "STOP without a stop request");
	FZ_CHECK(!pend(pre, CVM_LC_REQ_PAUSE) || a.kind == CVM_ACT_PAUSE,
	         "action %s while a pause is requested", cvm_lc_act_name(a.kind));
	FZ_CHECK(a.kind != CVM_ACT_PAUSE || pend(pre, CVM_LC_REQ_PAUSE), "PAUSE without a request");
	if (has(pre, CVM_LC_PROTECTED))
		FZ_CHECK(!regs || (a.kind != CVM_ACT_INIT_RESET && a.kind != CVM_ACT_SIPI_ENTRY),
		         "%s would write the registers of a protected vCPU",
		         cvm_lc_act_name(a.kind));

	switch (a.kind) {
	case CVM_ACT_INIT_RESET:
		FZ_CHECK(has(pre, CVM_LC_RESET_DUE) && !has(s, CVM_LC_RESET_DUE),
		         "INIT_RESET with no INIT taken");
		if (has(s, CVM_LC_BSP) && !has(s, CVM_LC_HOLD_INIT))
			FZ_CHECK((a.flags & CVM_ACTF_BSP) && s->mp == CVM_MP_RUNNABLE,
			         "INIT_RESET of the BSP does not restart it (flags %#x, mp %s)",
			         a.flags, cvm_mp_state_name(s->mp));
		w->need_sipi = !(a.flags & CVM_ACTF_BSP);
		break;
	case CVM_ACT_SIPI_ENTRY:
	case CVM_ACT_HOLD_RELEASE:
		FZ_CHECK(pre->mp == CVM_MP_SIPI_RECEIVED && s->mp == CVM_MP_RUNNABLE, "%s from %s",
		         cvm_lc_act_name(a.kind), cvm_mp_state_name(pre->mp));
		if (a.kind == CVM_ACT_SIPI_ENTRY)
			FZ_CHECK(a.vector == pre->sipi_vector && !has(pre, CVM_LC_HOLD_INIT),
			         "SIPI entry at %#x, accepted %#x", a.vector, pre->sipi_vector);
		else
			FZ_CHECK(has(pre, CVM_LC_HOLD_INIT) && !regs,
			         "HOLD_RELEASE without a held INIT");
		FZ_CHECK(!(a.flags & CVM_ACTF_FIRST) || !has(pre, CVM_LC_BOOTED),
		         "FIRST on a vCPU that booted before");
		w->need_sipi = false;
		break;
	case CVM_ACT_SMM_ENTER:
		FZ_CHECK(pend(pre, CVM_LC_P_SMI) && !has(pre, CVM_LC_SMM) && has(s, CVM_LC_SMM) &&
		                 has(s, CVM_LC_NMI_MASKED) && !pend(s, CVM_LC_P_SMI),
		         "SMM entry without an SMI, or not masking NMIs");
		break;
	case CVM_ACT_INJECT_NMI:
		FZ_CHECK(pend(pre, CVM_LC_P_NMI) && !has(pre, CVM_LC_NMI_MASKED) &&
		                 !pend(s, CVM_LC_P_NMI),
		         "NMI injected while blocked or not pending (flags %#x)", pre->flags);
		FZ_CHECK(!(pend(pre, CVM_LC_P_SMI) && !has(pre, CVM_LC_SMM)),
		         "NMI injected before a deliverable SMI");
		FZ_CHECK(has(s, CVM_LC_NMI_MASKED) || pend(s, CVM_LC_NMI_BY_HV),
		         "NMI injected without blocking further NMIs");
		break;
	case CVM_ACT_INJECT_INTR:
		FZ_CHECK(in->intr_pending && in->intr_window,
		         "interrupt injected with none pending");
		FZ_CHECK(!(pend(pre, CVM_LC_P_SMI) && !has(pre, CVM_LC_SMM)) &&
		                 !(pend(pre, CVM_LC_P_NMI) && !has(pre, CVM_LC_NMI_MASKED)),
		         "interrupt injected before a deliverable SMI or NMI");
		break;
	case CVM_ACT_BLOCK:
		FZ_CHECK(s->mp != CVM_MP_RUNNABLE, "BLOCK while runnable");
		if (s->mp == CVM_MP_HALTED)
			FZ_CHECK(
			        !deliverable(s, in) && !has(s, CVM_LC_RESET_DUE),
			        "a halted vCPU blocks with an event deliverable (flags %#x pend %#x)",
			        s->flags, s->pend);
		break;
	default:
		break;
	}
	if (a.kind == CVM_ACT_RUN || a.kind == CVM_ACT_SMM_ENTER || a.kind == CVM_ACT_INJECT_NMI ||
	    a.kind == CVM_ACT_INJECT_INTR) {
		FZ_CHECK(s->mp == CVM_MP_RUNNABLE && !has(s, CVM_LC_RESET_DUE), "%s leaves mp %s",
		         cvm_lc_act_name(a.kind), cvm_mp_state_name(s->mp));
		FZ_CHECK(!w->need_sipi, "%s: an AP runs after INIT without a SIPI",
		         cvm_lc_act_name(a.kind));
	}
}

/* A guest-initiated event either moved the vCPU to `mp` or changed nothing. */
static void check_guest_event(const struct cvm_lc *pre, const struct cvm_lc *s, enum cvm_disp d,
                              enum cvm_mp_state mp, const char *what)
{
	FZ_CHECK(d == CVM_DISP_DISCARDED ? !memcmp(pre, s, sizeof(*s)) : s->mp == mp,
	         "%s from %s (disp %d)", what, cvm_mp_state_name(pre->mp), d);
}

static void step(void *ctx, struct fz *f)
{
	struct lc_world *w = ctx;
	struct cvm_lc pre = w->s;
	struct cvm_lc_inputs in;
	struct cvm_lc_action a;
	enum cvm_disp d;
	uint8_t v, mode, bits;

	switch (fz_u8(f) % FZ_LC_NR_OPS) {
	case FZ_LC_INIT:
		check_init(&pre, &w->s, cvm_lc_init(&w->s, &w->c));
		break;
	case FZ_LC_INIT_DEASSERT:
		d = cvm_lc_init_deassert(&w->s, &w->c);
		FZ_CHECK(d == CVM_DISP_DISCARDED && !memcmp(&pre, &w->s, sizeof(pre)),
		         "INIT de-assert changed the vCPU");
		break;
	case FZ_LC_SIPI:
		v = fz_u8(f);
		w->sipi_in++;
		check_sipi(&pre, &w->s, cvm_lc_sipi(&w->s, &w->c, v), v);
		break;
	case FZ_LC_SMI:
		w->smi_in++;
		cvm_lc_smi(&w->s, &w->c);
		FZ_CHECK(pend(&w->s, CVM_LC_P_SMI), "SMI not pending");
		break;
	case FZ_LC_NMI:
		w->nmi_in++;
		cvm_lc_nmi(&w->s, &w->c);
		FZ_CHECK(pend(&w->s, CVM_LC_P_NMI), "NMI not pending");
		break;
	case FZ_LC_DELIVER:
		mode = fz_u8(f) % 8;
		v = fz_u8(f);
		bits = fz_u8(f);
		w->smi_in += mode == 2;
		w->nmi_in += mode == 4;
		w->sipi_in += mode == 6;
		d = cvm_lc_deliver(&w->s, &w->c, mode, v, bits & 1);
		if (mode == 5 && (bits & 1))
			check_init(&pre, &w->s, d);
		else if (mode == 6)
			check_sipi(&pre, &w->s, d, v);
		else if (mode != 2 && mode != 4)
			FZ_CHECK(d == CVM_DISP_DISCARDED && !memcmp(&pre, &w->s, sizeof(pre)),
			         "delivery mode %u changed the lifecycle", mode);
		break;
	case FZ_LC_RSM:
		d = cvm_lc_rsm(&w->s, &w->c);
		FZ_CHECK(has(&pre, CVM_LC_SMM) ? !has(&w->s, CVM_LC_SMM)
		                               : !memcmp(&pre, &w->s, sizeof(pre)),
		         "RSM (disp %d)", d);
		break;
	case FZ_LC_IRET:
		cvm_lc_iret(&w->s);
		FZ_CHECK(!has(&w->s, CVM_LC_NMI_MASKED), "IRET left NMIs blocked");
		break;
	case FZ_LC_HLT:
		check_guest_event(&pre, &w->s, cvm_lc_hlt(&w->s, &w->c), CVM_MP_HALTED, "HLT");
		break;
	case FZ_LC_HOLD:
		check_guest_event(&pre, &w->s, cvm_lc_ap_reset_hold(&w->s, &w->c),
		                  CVM_MP_AP_RESET_HOLD, "AP reset hold");
		break;
	case FZ_LC_PAUSE:
		cvm_lc_request_pause(&w->s);
		break;
	case FZ_LC_RESUME:
		cvm_lc_request_resume(&w->s);
		break;
	case FZ_LC_STOP:
		cvm_lc_request_stop(&w->s);
		w->stopped = true;
		break;
	case FZ_LC_NEXT:
		bits = fz_u8(f);
		in = (struct cvm_lc_inputs){
		        .exception_pending = bits & 1,
		        .intr_pending = bits & 2,
		        .intr_window = bits & 4,
		};
		a = cvm_lc_next(&w->s, &w->c, &in);
		check_next(w, &pre, &in, a);
		break;
	}
	check_state(w);
}

static void setup(void *ctx, struct fz *f)
{
	struct lc_world *w = ctx;

	*w = (struct lc_world){0};
	w->opts = fz_u8(f) & (CVM_LC_OPT_BSP | CVM_LC_OPT_PROTECTED | CVM_LC_OPT_NMI_BY_HV);
	cvm_lc_power_on(&w->s, w->opts);
	check_state(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lc_world w;

	return fz_run_ops(data, size, setup, step, &w);
}
