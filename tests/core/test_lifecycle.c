/* Unit tests for core/lifecycle.c: every row of the rules table in x86-vcpu-lifecycle.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/lifecycle.h"

static const struct cvm_lc_inputs no_input = {0};
static const struct cvm_lc_inputs intr_ready = {.intr_pending = true, .intr_window = true};
static const struct cvm_lc_inputs intr_masked = {.intr_pending = true, .intr_window = false};

static struct cvm_lc_action next(struct cvm_lc *s, struct cvm_counters *c)
{
	return cvm_lc_next(s, c, &no_input);
}

/* An AP that went through INIT and is waiting for SIPI, with its INIT_RESET done. */
static void ap_in_wfs(struct cvm_lc *s, struct cvm_counters *c)
{
	cvm_lc_power_on(s, 0);
	assert_int_equal(cvm_lc_init(s, c), CVM_DISP_ACCEPTED);
	assert_int_equal(next(s, c).kind, CVM_ACT_INIT_RESET);
	assert_int_equal(s->mp, CVM_MP_INIT_RECEIVED);
}

/* An AP started by INIT-SIPI and running. */
static void ap_running(struct cvm_lc *s, struct cvm_counters *c)
{
	ap_in_wfs(s, c);
	assert_int_equal(cvm_lc_sipi(s, c, 0x10), CVM_DISP_ACCEPTED);
	assert_int_equal(next(s, c).kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(s->mp, CVM_MP_RUNNABLE);
}

static void enter_smm(struct cvm_lc *s, struct cvm_counters *c)
{
	assert_int_equal(cvm_lc_smi(s, c), CVM_DISP_ACCEPTED);
	assert_int_equal(next(s, c).kind, CVM_ACT_SMM_ENTER);
	assert_true(cvm_lc_in_smm(s));
}

static void test_power_on(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	assert_int_equal(cvm_lc_mp_state(&s), CVM_MP_RUNNABLE);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	cvm_lc_power_on(&s, 0);
	assert_int_equal(cvm_lc_mp_state(&s), CVM_MP_UNINITIALIZED);
	assert_true(cvm_lc_waiting(&s));
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	/* KVM's numbering. */
	assert_int_equal(CVM_MP_INIT_RECEIVED, 2);
	assert_int_equal(CVM_MP_SIPI_RECEIVED, 4);
	assert_int_equal(CVM_MP_AP_RESET_HOLD, 9);
	assert_int_equal(CVM_MP_SUSPENDED, 10);
	assert_string_equal(cvm_mp_state_name(9), "AP_RESET_HOLD");
	assert_string_equal(cvm_mp_state_name(99), "?");
	assert_string_equal(cvm_lc_act_name(CVM_ACT_SIPI_ENTRY), "SIPI_ENTRY");
	assert_string_equal(cvm_lc_act_name(99), "?");
	assert_string_equal(cvm_counter_name(CVM_CTR_SIPI_DISCARDED_SMM), "sipi_discarded_smm");
	assert_string_equal(cvm_counter_name(CVM_CTR_NR), "?");
	assert_int_equal(sizeof(struct cvm_lc), 5);
}

/* SIPI: acted on only in wait-for-SIPI, CS/RIP from the vector; the AP becomes RUNNABLE. */
static void test_sipi_in_wfs(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x9a), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_SIPI_RECEIVED);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(a.vector, 0x9a);
	assert_int_equal(a.flags & CVM_ACTF_NO_REGS, 0);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_int_equal(c.n[CVM_CTR_SIPI_ACCEPTED], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
}

/* SIPI anywhere else is discarded, never latched, with its cause counted. */
static void test_sipi_discarded(void **state)
{
	struct cvm_lc s, before;
	struct cvm_counters c = {0};

	/* running */
	ap_running(&s, &c);
	before = s;
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x20), CVM_DISP_DISCARDED);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_RUNNING], 1);
	/* halted: and it does not wake */
	assert_int_equal(cvm_lc_hlt(&s, &c), CVM_DISP_ACCEPTED);
	before = s;
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x20), CVM_DISP_DISCARDED);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_HALTED], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	/* SMM */
	ap_running(&s, &c);
	enter_smm(&s, &c);
	before = s;
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x20), CVM_DISP_DISCARDED);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_SMM], 1);
	/* uninitialised (no INIT yet) */
	cvm_lc_power_on(&s, 0);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x20), CVM_DISP_DISCARDED);
	assert_int_equal(s.mp, CVM_MP_UNINITIALIZED);
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_UNINIT], 1);
	/* a second SIPI while the first is not yet entered */
	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x30), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x40), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_PENDING], 1);
	assert_int_equal(next(&s, &c).vector, 0x30);
	/* any other MP state */
	s.mp = CVM_MP_STOPPED;
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x30), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_OTHER], 1);
}

/* INIT: the BSP is RUNNABLE at the reset vector, an AP enters wait-for-SIPI. */
static void test_init_bsp_ap(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_INIT_RESET);
	assert_true(a.flags & CVM_ACTF_BSP);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);

	ap_running(&s, &c);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_INIT_RECEIVED);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_INIT_RESET);
	assert_int_equal(a.flags, 0);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	assert_int_equal(c.n[CVM_CTR_INIT_TAKEN], 3);
}

/* INIT overwrites an accepted SIPI that was not entered yet. */
static void test_init_overwrites_sipi(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_INIT_RECEIVED);
	assert_int_equal(c.n[CVM_CTR_SIPI_OVERWRITTEN_BY_INIT], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INIT_RESET);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	/* INIT then SIPI before the vCPU ran: reset first, then the entry. */
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x22), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INIT_RESET);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SIPI_ENTRY);
}

/* INIT in SMM: latched (one), taken at RSM; a SIPI meanwhile is dropped (seed 004). */
static void test_init_in_smm(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_MERGED);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_true(s.pend & CVM_LC_P_INIT);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_DISCARDED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN); /* the SMI handler runs */
	assert_int_equal(cvm_lc_rsm(&s, &c), CVM_DISP_ACCEPTED);
	assert_false(cvm_lc_in_smm(&s));
	assert_int_equal(s.mp, CVM_MP_INIT_RECEIVED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INIT_RESET);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK); /* the SIPI is gone: the AP waits */
	assert_int_equal(c.n[CVM_CTR_INIT_LATCHED_SMM], 1);
	assert_int_equal(c.n[CVM_CTR_INIT_MERGED], 1);
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_SMM], 1);
	/* A resent SIPI starts it: correct guests retry. */
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SIPI_ENTRY);
}

/* With an SMI and an INIT both latched in SMM, RSM re-enters SMM first; INIT at the next RSM. */
static void test_smi_before_latched_init(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_rsm(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_true(s.pend & CVM_LC_P_INIT);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SMM_ENTER);
	assert_int_equal(cvm_lc_rsm(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_INIT_RECEIVED);
	assert_int_equal(c.n[CVM_CTR_SMI_TAKEN], 2);
}

/* INIT outside SMM while an earlier one is latched (SMI pending): merged, taken now. */
static void test_init_merges_latched(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	cvm_lc_init(&s, &c);
	cvm_lc_smi(&s, &c);
	cvm_lc_rsm(&s, &c);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_false(s.pend & (CVM_LC_P_INIT | CVM_LC_P_SMI));
	assert_int_equal(c.n[CVM_CTR_INIT_MERGED], 1);
	assert_int_equal(c.n[CVM_CTR_SMI_CLEARED_BY_INIT], 1);
	assert_int_equal(s.mp, CVM_MP_INIT_RECEIVED);
}

/* SMI: taken when not in SMM; one further SMI latched in SMM and taken after RSM. */
static void test_smi_latched_in_smm(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_MERGED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	cvm_lc_rsm(&s, &c);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SMM_ENTER);
	cvm_lc_rsm(&s, &c);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	assert_int_equal(c.n[CVM_CTR_SMI_TAKEN], 2);
	assert_int_equal(c.n[CVM_CTR_SMI_LATCHED_SMM], 1);
	assert_int_equal(c.n[CVM_CTR_SMI_MERGED], 1);
	assert_int_equal(c.n[CVM_CTR_RSM], 2);
	/* RSM outside SMM: ignored */
	assert_int_equal(cvm_lc_rsm(&s, &c), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_EVENT_IGNORED], 1);
}

/* SMI in wait-for-SIPI stays latched until the SIPI; INIT clears a pending SMI. */
static void test_smi_in_wfs(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SMM_ENTER);
	assert_int_equal(c.n[CVM_CTR_SMI_LATCHED_WAIT], 1);
	cvm_lc_rsm(&s, &c);
	/* INIT clears pending SMI and NMI */
	cvm_lc_init(&s, &c);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.pend & (CVM_LC_P_SMI | CVM_LC_P_NMI), 0);
	assert_int_equal(c.n[CVM_CTR_SMI_CLEARED_BY_INIT], 1);
	assert_int_equal(c.n[CVM_CTR_NMI_CLEARED_BY_INIT], 1);
}

/* NMI: blocked in SMM (latched once), RSM restores the pre-SMI blocking, IRET in SMM unblocks. */
static void test_nmi_smm(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_MERGED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	cvm_lc_rsm(&s, &c);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(c.n[CVM_CTR_NMI_LATCHED_SMM], 1);
	assert_int_equal(c.n[CVM_CTR_NMI_MERGED], 1);

	/* SMI during an NMI handler: after RSM NMIs are still blocked until IRET. */
	enter_smm(&s, &c);
	cvm_lc_nmi(&s, &c);
	cvm_lc_rsm(&s, &c);
	assert_true(s.flags & CVM_LC_NMI_MASKED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	cvm_lc_iret(&s);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	cvm_lc_iret(&s);

	/* IRET inside SMM unblocks NMIs there. */
	enter_smm(&s, &c);
	cvm_lc_iret(&s);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	cvm_lc_rsm(&s, &c);
	assert_false(s.flags & CVM_LC_NMI_MASKED); /* pre-SMI: unblocked */
}

/* NMI blocked in wait-for-SIPI; at most one pending while one is handled; never nested. */
static void test_nmi_blocking(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(c.n[CVM_CTR_NMI_LATCHED_WAIT], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	cvm_lc_sipi(&s, &c, 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_MERGED);
	assert_int_equal(c.n[CVM_CTR_NMI_LATCHED_BLOCKED], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN); /* not nested */
	cvm_lc_iret(&s);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	assert_int_equal(c.n[CVM_CTR_NMI_INJECTED], 2);
}

/* With NMI blocking tracked by the hypervisor, the core hands NMIs over unmasked. */
static void test_nmi_by_hv(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP | CVM_LC_OPT_NMI_BY_HV);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
}

/* External interrupts: blocked in wait-for-SIPI; IF/window decides; a request for a window. */
static void test_interrupts(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	ap_in_wfs(&s, &c);
	assert_int_equal(cvm_lc_next(&s, &c, &intr_ready).kind, CVM_ACT_BLOCK);
	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	assert_int_equal(cvm_lc_next(&s, &c, &intr_ready).kind, CVM_ACT_INJECT_INTR);
	a = cvm_lc_next(&s, &c, &intr_masked);
	assert_int_equal(a.kind, CVM_ACT_RUN);
	assert_true(a.flags & CVM_ACTF_WINDOW);
	assert_int_equal(next(&s, &c).flags, 0);
	assert_int_equal(c.n[CVM_CTR_INTR_INJECTED], 1);
}

/* HLT wakes on INTR (IF=1), NMI, SMI, INIT; never on SIPI nor on a masked interrupt. */
static void test_hlt_wakeups(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	assert_int_equal(cvm_lc_hlt(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_hlt(&s, &c), CVM_DISP_DISCARDED); /* already halted */
	assert_int_equal(cvm_lc_next(&s, &c, &intr_masked).kind, CVM_ACT_BLOCK);
	assert_int_equal(cvm_lc_next(&s, &c, &intr_ready).kind, CVM_ACT_INJECT_INTR);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_int_equal(c.n[CVM_CTR_WAKE_INTR], 1);

	cvm_lc_hlt(&s, &c);
	cvm_lc_nmi(&s, &c);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(c.n[CVM_CTR_WAKE_NMI], 1);
	cvm_lc_iret(&s);

	cvm_lc_hlt(&s, &c);
	cvm_lc_smi(&s, &c);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_SMM_ENTER);
	assert_int_equal(c.n[CVM_CTR_WAKE_SMI], 1);
	cvm_lc_rsm(&s, &c);

	cvm_lc_hlt(&s, &c);
	cvm_lc_sipi(&s, &c, 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	cvm_lc_init(&s, &c);
	assert_int_equal(c.n[CVM_CTR_WAKE_INIT], 1);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INIT_RESET);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN); /* BSP */
	assert_int_equal(c.n[CVM_CTR_HALTS], 4);
}

/* Injection priority: pending exception > SMI > NMI > external interrupt. */
static void test_priority(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_inputs all = {
	        .exception_pending = true, .intr_pending = true, .intr_window = true};

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	cvm_lc_nmi(&s, &c);
	cvm_lc_smi(&s, &c);
	assert_int_equal(cvm_lc_next(&s, &c, &all).kind, CVM_ACT_RUN);
	all.exception_pending = false;
	assert_int_equal(cvm_lc_next(&s, &c, &all).kind, CVM_ACT_SMM_ENTER);
	cvm_lc_rsm(&s, &c);
	assert_int_equal(cvm_lc_next(&s, &c, &all).kind, CVM_ACT_INJECT_NMI);
	assert_int_equal(cvm_lc_next(&s, &c, &all).kind, CVM_ACT_INJECT_INTR);
	/* The generic dispatcher maps delivery modes to the same events. */
	assert_int_equal(cvm_lc_deliver(&s, &c, 2, 0, true), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_deliver(&s, &c, 0, 0x30, true), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lc_deliver(&s, &c, 5, 0, false), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_INIT_DEASSERT_IGNORED], 1);
	assert_int_equal(cvm_lc_deliver(&s, &c, 6, 7, true), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lc_deliver(&s, &c, 4, 0, true), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_deliver(&s, &c, 5, 0, true), CVM_DISP_ACCEPTED);
}

/* VMM requests come first; pause is undone by resume; stop is final. */
static void test_requests(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	cvm_lc_nmi(&s, &c);
	cvm_lc_request_pause(&s);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_PAUSE);
	assert_int_equal(c.n[CVM_CTR_PAUSES], 1);
	cvm_lc_request_resume(&s);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_INJECT_NMI);
	cvm_lc_request_stop(&s);
	cvm_lc_request_resume(&s);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_STOP);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_STOP);
}

/* Protected state: the first INIT-SIPI-SIPI starts the AP from its measured state, no register writes. */
static void test_protected_first_boot(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	cvm_lc_power_on(&s, CVM_LC_OPT_PROTECTED);
	cvm_lc_init(&s, &c);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_INIT_RESET);
	assert_true(a.flags & CVM_ACTF_NO_REGS);
	cvm_lc_sipi(&s, &c, 0x99);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x99), CVM_DISP_DISCARDED);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(a.flags, CVM_ACTF_NO_REGS | CVM_ACTF_FIRST);
	/* A plain INIT-SIPI later: still no register writes, not first. */
	cvm_lc_init(&s, &c);
	assert_true(next(&s, &c).flags & CVM_ACTF_NO_REGS);
	cvm_lc_sipi(&s, &c, 0x99);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_SIPI_ENTRY);
	assert_int_equal(a.flags, CVM_ACTF_NO_REGS);
}

/* AP reset hold: parked by request, INIT alone leaves it held, INIT-SIPI releases it unchanged. */
static void test_ap_reset_hold(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	ap_running(&s, &c);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_mp_state(&s), CVM_MP_AP_RESET_HOLD);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_DISCARDED);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	assert_int_equal(cvm_lc_next(&s, &c, &intr_ready).kind, CVM_ACT_BLOCK);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_SIPI_DISCARDED_HOLD], 1);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_mp_state(&s), CVM_MP_AP_RESET_HOLD);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_INIT_RESET);
	assert_true(a.flags & CVM_ACTF_NO_REGS);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_BLOCK);
	/* A second INIT keeps it held too. */
	cvm_lc_init(&s, &c);
	next(&s, &c);
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_ACCEPTED);
	/* INIT after the SIPI but before the release: still held. */
	cvm_lc_init(&s, &c);
	assert_int_equal(cvm_lc_mp_state(&s), CVM_MP_AP_RESET_HOLD);
	next(&s, &c);
	cvm_lc_sipi(&s, &c, 0x10);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_HOLD_RELEASE);
	assert_true(a.flags & CVM_ACTF_NO_REGS);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_int_equal(c.n[CVM_CTR_HOLD_REQUESTS], 1);
	assert_int_equal(c.n[CVM_CTR_HOLD_INIT], 3);
	assert_int_equal(c.n[CVM_CTR_HOLD_RELEASES], 1);
	/* The next SIPI is an ordinary discard; a new hold works again. */
	assert_int_equal(cvm_lc_sipi(&s, &c, 0x10), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_ACCEPTED);
	cvm_lc_init(&s, &c);
	next(&s, &c);
	cvm_lc_sipi(&s, &c, 0);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_HOLD_RELEASE);
	/* SMI and NMI wait while held. */
	cvm_lc_ap_reset_hold(&s, &c);
	assert_int_equal(cvm_lc_smi(&s, &c), CVM_DISP_LATCHED);
	assert_int_equal(cvm_lc_nmi(&s, &c), CVM_DISP_LATCHED);
}

/*
 * Found by fuzz_lifecycle: a HLT (or AP reset hold request) reported after an
 * INIT was taken, because the INIT's kick raced with the exit, must not halt
 * the vCPU: the BSP would get an INIT_RESET without CVM_ACTF_BSP and block.
 */
static void test_guest_event_after_init(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};
	struct cvm_lc_action a;

	cvm_lc_power_on(&s, CVM_LC_OPT_BSP);
	assert_int_equal(cvm_lc_init(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_hlt(&s, &c), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_EVENT_IGNORED], 2);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	a = next(&s, &c);
	assert_int_equal(a.kind, CVM_ACT_INIT_RESET);
	assert_true(a.flags & CVM_ACTF_BSP);
	assert_int_equal(next(&s, &c).kind, CVM_ACT_RUN);
	/* Once the reset is done, HLT works again. */
	assert_int_equal(cvm_lc_hlt(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(s.mp, CVM_MP_HALTED);
}

/* Found by fuzz_lifecycle: an AP reset hold request in SMM would leave the vCPU in SMM and held. */
static void test_hold_request_in_smm(void **state)
{
	struct cvm_lc s;
	struct cvm_counters c = {0};

	ap_running(&s, &c);
	enter_smm(&s, &c);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_DISCARDED);
	assert_int_equal(s.mp, CVM_MP_RUNNABLE);
	assert_int_equal(c.n[CVM_CTR_HOLD_REQUESTS], 0);
	assert_int_equal(cvm_lc_rsm(&s, &c), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lc_ap_reset_hold(&s, &c), CVM_DISP_ACCEPTED);
	assert_false(cvm_lc_in_smm(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_power_on),
	        cmocka_unit_test(test_sipi_in_wfs),
	        cmocka_unit_test(test_sipi_discarded),
	        cmocka_unit_test(test_init_bsp_ap),
	        cmocka_unit_test(test_init_overwrites_sipi),
	        cmocka_unit_test(test_init_in_smm),
	        cmocka_unit_test(test_smi_before_latched_init),
	        cmocka_unit_test(test_init_merges_latched),
	        cmocka_unit_test(test_smi_latched_in_smm),
	        cmocka_unit_test(test_smi_in_wfs),
	        cmocka_unit_test(test_nmi_smm),
	        cmocka_unit_test(test_nmi_blocking),
	        cmocka_unit_test(test_nmi_by_hv),
	        cmocka_unit_test(test_interrupts),
	        cmocka_unit_test(test_hlt_wakeups),
	        cmocka_unit_test(test_priority),
	        cmocka_unit_test(test_requests),
	        cmocka_unit_test(test_protected_first_boot),
	        cmocka_unit_test(test_ap_reset_hold),
	        cmocka_unit_test(test_guest_event_after_init),
	        cmocka_unit_test(test_hold_request_in_smm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
