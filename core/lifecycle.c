/* The x86 vCPU lifecycle state machine: events latch or discard signals, cvm_lc_next() picks the action. */
#include "core/lifecycle.h"

#include <stddef.h>

static const char *const counter_names[] = {
#define CVM_COUNTER_NAME(e, name) name,
        CVM_COUNTER_LIST(CVM_COUNTER_NAME)
#undef CVM_COUNTER_NAME
};

const char *cvm_counter_name(unsigned int id)
{
	return id < CVM_CTR_NR ? counter_names[id] : "?";
}

static const char *const mp_names[] = {
        "RUNNABLE",   "UNINITIALIZED", "INIT_RECEIVED", "HALTED",        "SIPI_RECEIVED", "STOPPED",
        "CHECK_STOP", "OPERATING",     "LOAD",          "AP_RESET_HOLD", "SUSPENDED",
};

const char *cvm_mp_state_name(unsigned int mp)
{
	return mp < sizeof(mp_names) / sizeof(mp_names[0]) ? mp_names[mp] : "?";
}

static const char *const act_names[] = {
        "RUN",        "BLOCK",        "STOP",      "PAUSE",      "INIT_RESET",
        "SIPI_ENTRY", "HOLD_RELEASE", "SMM_ENTER", "INJECT_NMI", "INJECT_INTR",
};

const char *cvm_lc_act_name(unsigned int act)
{
	return act < sizeof(act_names) / sizeof(act_names[0]) ? act_names[act] : "?";
}

void cvm_lc_power_on(struct cvm_lc *s, unsigned int opts)
{
	*s = (struct cvm_lc){0};
	if (opts & CVM_LC_OPT_BSP) {
		s->mp = CVM_MP_RUNNABLE;
		s->flags = CVM_LC_BSP | CVM_LC_BOOTED;
	} else {
		s->mp = CVM_MP_UNINITIALIZED;
	}
	if (opts & CVM_LC_OPT_PROTECTED)
		s->flags |= CVM_LC_PROTECTED;
	if (opts & CVM_LC_OPT_NMI_BY_HV)
		s->pend |= CVM_LC_NMI_BY_HV;
}

bool cvm_lc_waiting(const struct cvm_lc *s)
{
	switch (s->mp) {
	case CVM_MP_UNINITIALIZED:
	case CVM_MP_INIT_RECEIVED:
	case CVM_MP_SIPI_RECEIVED:
	case CVM_MP_AP_RESET_HOLD:
		return true;
	default:
		return false;
	}
}

/*
 * The transitions of the MP state (mp) and what moves them. "(E)" is an
 * event function, "[A]" an action cvm_lc_next() returns. SMM, NMI blocking
 * and the pending signals are flags beside mp and do not change it, except
 * where shown.
 *
 *                          power-on (AP)
 *                               |
 *                               v
 *                        UNINITIALIZED ----(E) SIPI: discarded
 *                               |
 *                        (E) INIT (not in SMM; in SMM: latched, taken at RSM)
 *                               v
 *  any state but hold ---> INIT_RECEIVED <-------------------------------+
 *  (E) INIT: AP                 |   (wait-for-SIPI: SMI/NMI latched,    |
 *  (BSP: RUNNABLE,              |    interrupts blocked)                 |
 *   [A] INIT_RESET first)  (E) SIPI(v)                            (E) INIT
 *                               v                                        |
 *                         SIPI_RECEIVED ---(E) SIPI: discarded (pending) |
 *                               |          (E) INIT: overwrites ---------+
 *       [A] SIPI_ENTRY(v) / HOLD_RELEASE (after hold + INIT)
 *                               v
 *   power-on (BSP) ------> RUNNABLE <-------------------------+
 *                           |  ^   |                           |
 *                (E) HLT    |  |   | (E) AP reset hold request |
 *                           v  |   v                           |
 *                       HALTED |  AP_RESET_HOLD --(E) INIT: stays held,
 *                           |  |       |           remembers it
 *   wake: [A] SMM_ENTER,    |  |       +--(E) SIPI after that INIT
 *   INJECT_NMI,             +--+          -> SIPI_RECEIVED -> [A] HOLD_RELEASE
 *   INJECT_INTR (IF=1);
 *   (E) INIT wakes to INIT_RECEIVED / RUNNABLE (BSP)
 *
 * SMM (flag): [A] SMM_ENTER from RUNNABLE/HALTED sets it (NMIs blocked, the
 * pre-SMI blocking saved); (E) RSM clears it, restores NMI blocking and takes
 * a latched INIT unless another SMI is pending. In SMM: INIT latched (one),
 * SIPI discarded, SMI latched (one), NMI latched (one).
 */
static void take_init(struct cvm_lc *s, struct cvm_counters *c)
{
	if (s->mp == CVM_MP_HALTED)
		cvm_count(c, CVM_CTR_WAKE_INIT);
	if (s->mp == CVM_MP_SIPI_RECEIVED)
		cvm_count(c, CVM_CTR_SIPI_OVERWRITTEN_BY_INIT);
	if (s->pend & CVM_LC_P_SMI)
		cvm_count(c, CVM_CTR_SMI_CLEARED_BY_INIT);
	if (s->pend & CVM_LC_P_NMI)
		cvm_count(c, CVM_CTR_NMI_CLEARED_BY_INIT);
	s->pend &= (uint8_t) ~(CVM_LC_P_INIT | CVM_LC_P_SMI | CVM_LC_P_NMI);
	s->flags &= (uint8_t) ~(CVM_LC_NMI_MASKED | CVM_LC_SMM_NMI);
	s->flags |= CVM_LC_RESET_DUE;
	s->sipi_vector = 0;
	cvm_count(c, CVM_CTR_INIT_TAKEN);

	if (s->mp == CVM_MP_AP_RESET_HOLD || (s->flags & CVM_LC_HOLD_INIT)) {
		/* A held AP stays held; the next SIPI releases it without register changes. */
		s->mp = CVM_MP_AP_RESET_HOLD;
		s->flags |= CVM_LC_HOLD_INIT;
		cvm_count(c, CVM_CTR_HOLD_INIT);
	} else if (s->flags & CVM_LC_BSP) {
		s->mp = CVM_MP_RUNNABLE;
	} else {
		s->mp = CVM_MP_INIT_RECEIVED;
	}
}

enum cvm_disp cvm_lc_init(struct cvm_lc *s, struct cvm_counters *c)
{
	if (s->flags & CVM_LC_SMM) {
		if (s->pend & CVM_LC_P_INIT) {
			cvm_count(c, CVM_CTR_INIT_MERGED);
			return CVM_DISP_MERGED;
		}
		s->pend |= CVM_LC_P_INIT;
		cvm_count(c, CVM_CTR_INIT_LATCHED_SMM);
		return CVM_DISP_LATCHED;
	}
	if (s->pend & CVM_LC_P_INIT)
		cvm_count(c, CVM_CTR_INIT_MERGED);
	take_init(s, c);
	return CVM_DISP_ACCEPTED;
}

enum cvm_disp cvm_lc_init_deassert(struct cvm_lc *s, struct cvm_counters *c)
{
	(void)s;
	cvm_count(c, CVM_CTR_INIT_DEASSERT_IGNORED);
	return CVM_DISP_DISCARDED;
}

enum cvm_disp cvm_lc_sipi(struct cvm_lc *s, struct cvm_counters *c, uint8_t vector)
{
	enum cvm_counter why;

	if (s->flags & CVM_LC_SMM) {
		why = CVM_CTR_SIPI_DISCARDED_SMM;
	} else if (s->mp == CVM_MP_INIT_RECEIVED ||
	           (s->mp == CVM_MP_AP_RESET_HOLD && (s->flags & CVM_LC_HOLD_INIT))) {
		s->mp = CVM_MP_SIPI_RECEIVED;
		s->sipi_vector = vector;
		cvm_count(c, CVM_CTR_SIPI_ACCEPTED);
		return CVM_DISP_ACCEPTED;
	} else {
		switch (s->mp) {
		case CVM_MP_RUNNABLE:
			why = CVM_CTR_SIPI_DISCARDED_RUNNING;
			break;
		case CVM_MP_HALTED:
			why = CVM_CTR_SIPI_DISCARDED_HALTED;
			break;
		case CVM_MP_UNINITIALIZED:
			why = CVM_CTR_SIPI_DISCARDED_UNINIT;
			break;
		case CVM_MP_SIPI_RECEIVED:
			why = CVM_CTR_SIPI_DISCARDED_PENDING;
			break;
		case CVM_MP_AP_RESET_HOLD:
			why = CVM_CTR_SIPI_DISCARDED_HOLD;
			break;
		default:
			why = CVM_CTR_SIPI_DISCARDED_OTHER;
			break;
		}
	}
	cvm_count(c, why);
	return CVM_DISP_DISCARDED;
}

enum cvm_disp cvm_lc_smi(struct cvm_lc *s, struct cvm_counters *c)
{
	if (s->pend & CVM_LC_P_SMI) {
		cvm_count(c, CVM_CTR_SMI_MERGED);
		return CVM_DISP_MERGED;
	}
	s->pend |= CVM_LC_P_SMI;
	if (s->flags & CVM_LC_SMM) {
		cvm_count(c, CVM_CTR_SMI_LATCHED_SMM);
		return CVM_DISP_LATCHED;
	}
	if (cvm_lc_waiting(s)) {
		cvm_count(c, CVM_CTR_SMI_LATCHED_WAIT);
		return CVM_DISP_LATCHED;
	}
	return CVM_DISP_ACCEPTED;
}

enum cvm_disp cvm_lc_nmi(struct cvm_lc *s, struct cvm_counters *c)
{
	if (s->pend & CVM_LC_P_NMI) {
		cvm_count(c, CVM_CTR_NMI_MERGED);
		return CVM_DISP_MERGED;
	}
	s->pend |= CVM_LC_P_NMI;
	if (cvm_lc_waiting(s)) {
		cvm_count(c, CVM_CTR_NMI_LATCHED_WAIT);
		return CVM_DISP_LATCHED;
	}
	if (s->flags & CVM_LC_NMI_MASKED) {
		/* SMM entry masks NMIs; an IRET inside SMM unmasks them again. */
		cvm_count(c, (s->flags & CVM_LC_SMM) ? CVM_CTR_NMI_LATCHED_SMM
		                                     : CVM_CTR_NMI_LATCHED_BLOCKED);
		return CVM_DISP_LATCHED;
	}
	return CVM_DISP_ACCEPTED;
}

enum cvm_disp cvm_lc_deliver(struct cvm_lc *s, struct cvm_counters *c, unsigned int mode,
                             uint8_t vector, bool assert)
{
	switch (mode) {
	case 2:
		return cvm_lc_smi(s, c);
	case 4:
		return cvm_lc_nmi(s, c);
	case 5:
		return assert ? cvm_lc_init(s, c) : cvm_lc_init_deassert(s, c);
	case 6:
		return cvm_lc_sipi(s, c, vector);
	default:
		return CVM_DISP_DISCARDED;
	}
}

enum cvm_disp cvm_lc_rsm(struct cvm_lc *s, struct cvm_counters *c)
{
	if (!(s->flags & CVM_LC_SMM)) {
		cvm_count(c, CVM_CTR_EVENT_IGNORED);
		return CVM_DISP_DISCARDED;
	}
	s->flags &= (uint8_t) ~(CVM_LC_SMM | CVM_LC_NMI_MASKED);
	if (s->flags & CVM_LC_SMM_NMI)
		s->flags |= CVM_LC_NMI_MASKED;
	s->flags &= (uint8_t)~CVM_LC_SMM_NMI;
	cvm_count(c, CVM_CTR_RSM);
	/* SMI outranks INIT: with both pending, SMM is entered again and the INIT waits. */
	if ((s->pend & CVM_LC_P_INIT) && !(s->pend & CVM_LC_P_SMI))
		take_init(s, c);
	return CVM_DISP_ACCEPTED;
}

void cvm_lc_iret(struct cvm_lc *s)
{
	s->flags &= (uint8_t)~CVM_LC_NMI_MASKED;
}

/*
 * A guest instruction reported after an INIT was taken (the INIT's kick raced
 * with the exit) belongs to the context that INIT replaced: it must not undo
 * where the INIT put the vCPU.
 */
static bool stale_guest_event(const struct cvm_lc *s)
{
	return s->mp != CVM_MP_RUNNABLE || (s->flags & CVM_LC_RESET_DUE);
}

enum cvm_disp cvm_lc_hlt(struct cvm_lc *s, struct cvm_counters *c)
{
	if (stale_guest_event(s)) {
		cvm_count(c, CVM_CTR_EVENT_IGNORED);
		return CVM_DISP_DISCARDED;
	}
	s->mp = CVM_MP_HALTED;
	cvm_count(c, CVM_CTR_HALTS);
	return CVM_DISP_ACCEPTED;
}

enum cvm_disp cvm_lc_ap_reset_hold(struct cvm_lc *s, struct cvm_counters *c)
{
	/* Held in SMM, the vCPU could never leave: INIT is latched there and RSM never comes. */
	if (stale_guest_event(s) || (s->flags & CVM_LC_SMM)) {
		cvm_count(c, CVM_CTR_EVENT_IGNORED);
		return CVM_DISP_DISCARDED;
	}
	s->mp = CVM_MP_AP_RESET_HOLD;
	s->flags &= (uint8_t)~CVM_LC_HOLD_INIT;
	cvm_count(c, CVM_CTR_HOLD_REQUESTS);
	return CVM_DISP_ACCEPTED;
}

void cvm_lc_request_pause(struct cvm_lc *s)
{
	s->pend |= CVM_LC_REQ_PAUSE;
}

void cvm_lc_request_resume(struct cvm_lc *s)
{
	s->pend &= (uint8_t)~CVM_LC_REQ_PAUSE;
}

void cvm_lc_request_stop(struct cvm_lc *s)
{
	s->pend |= CVM_LC_REQ_STOP;
}

static struct cvm_lc_action act(enum cvm_lc_act kind, uint8_t vector, uint8_t flags)
{
	return (struct cvm_lc_action){.kind = (uint8_t)kind, .vector = vector, .flags = flags};
}

/* A halted vCPU that is about to take an event becomes RUNNABLE; counts the wake cause. */
static void wake(struct cvm_lc *s, struct cvm_counters *c, enum cvm_counter cause)
{
	if (s->mp == CVM_MP_HALTED) {
		s->mp = CVM_MP_RUNNABLE;
		cvm_count(c, cause);
	}
}

static struct cvm_lc_action sipi_entry(struct cvm_lc *s, struct cvm_counters *c)
{
	uint8_t first = (s->flags & CVM_LC_BOOTED) ? 0 : CVM_ACTF_FIRST;

	s->mp = CVM_MP_RUNNABLE;
	s->flags |= CVM_LC_BOOTED;
	if (s->flags & CVM_LC_HOLD_INIT) {
		s->flags &= (uint8_t)~CVM_LC_HOLD_INIT;
		cvm_count(c, CVM_CTR_HOLD_RELEASES);
		return act(CVM_ACT_HOLD_RELEASE, 0, CVM_ACTF_NO_REGS);
	}
	if (s->flags & CVM_LC_PROTECTED)
		return act(CVM_ACT_SIPI_ENTRY, s->sipi_vector, CVM_ACTF_NO_REGS | first);
	return act(CVM_ACT_SIPI_ENTRY, s->sipi_vector, first);
}

struct cvm_lc_action cvm_lc_next(struct cvm_lc *s, struct cvm_counters *c,
                                 const struct cvm_lc_inputs *in)
{
	if (s->pend & CVM_LC_REQ_STOP)
		return act(CVM_ACT_STOP, 0, 0);
	if (s->pend & CVM_LC_REQ_PAUSE) {
		cvm_count(c, CVM_CTR_PAUSES);
		return act(CVM_ACT_PAUSE, 0, 0);
	}
	if (s->flags & CVM_LC_RESET_DUE) {
		uint8_t f = 0;
		s->flags &= (uint8_t)~CVM_LC_RESET_DUE;
		if (s->flags & (CVM_LC_PROTECTED | CVM_LC_HOLD_INIT))
			f |= CVM_ACTF_NO_REGS;
		if ((s->flags & CVM_LC_BSP) && s->mp == CVM_MP_RUNNABLE)
			f |= CVM_ACTF_BSP;
		return act(CVM_ACT_INIT_RESET, 0, f);
	}
	if (s->mp == CVM_MP_SIPI_RECEIVED)
		return sipi_entry(s, c);
	if (s->mp != CVM_MP_RUNNABLE && s->mp != CVM_MP_HALTED)
		return act(CVM_ACT_BLOCK, 0, 0);

	if (in->exception_pending && s->mp == CVM_MP_RUNNABLE)
		return act(CVM_ACT_RUN, 0, 0);
	if ((s->pend & CVM_LC_P_SMI) && !(s->flags & CVM_LC_SMM)) {
		wake(s, c, CVM_CTR_WAKE_SMI);
		s->pend &= (uint8_t)~CVM_LC_P_SMI;
		s->flags &= (uint8_t)~CVM_LC_SMM_NMI;
		if (s->flags & CVM_LC_NMI_MASKED)
			s->flags |= CVM_LC_SMM_NMI;
		s->flags |= CVM_LC_SMM | CVM_LC_NMI_MASKED;
		cvm_count(c, CVM_CTR_SMI_TAKEN);
		return act(CVM_ACT_SMM_ENTER, 0, 0);
	}
	if ((s->pend & CVM_LC_P_NMI) && !(s->flags & CVM_LC_NMI_MASKED)) {
		wake(s, c, CVM_CTR_WAKE_NMI);
		s->pend &= (uint8_t)~CVM_LC_P_NMI;
		if (!(s->pend & CVM_LC_NMI_BY_HV))
			s->flags |= CVM_LC_NMI_MASKED;
		cvm_count(c, CVM_CTR_NMI_INJECTED);
		return act(CVM_ACT_INJECT_NMI, 0, 0);
	}
	if (in->intr_pending && in->intr_window) {
		wake(s, c, CVM_CTR_WAKE_INTR);
		cvm_count(c, CVM_CTR_INTR_INJECTED);
		return act(CVM_ACT_INJECT_INTR, 0, 0);
	}
	if (s->mp == CVM_MP_HALTED)
		return act(CVM_ACT_BLOCK, 0, 0);
	return act(CVM_ACT_RUN, 0, in->intr_pending ? CVM_ACTF_WINDOW : 0);
}
