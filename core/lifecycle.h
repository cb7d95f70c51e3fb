/* The x86 vCPU lifecycle state machine: MP states, INIT/SIPI/SMI/NMI/HLT/AP-reset-hold events, and the next action. */
#ifndef COREVM_CORE_LIFECYCLE_H
#define COREVM_CORE_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/counters.h"

/*
 * How a backend drives one vCPU (docs/core.md has the diagram):
 *
 *   1. cvm_lc_power_on() once, before the vCPU first runs.
 *   2. Signals arrive as events, from any thread that holds the vCPU's lock
 *      (cvm_lc_init(), cvm_lc_sipi(), cvm_lc_smi(), cvm_lc_nmi(), ...), usually
 *      through cvm_apic_accept() in core/apic_bus.h. Each event only latches,
 *      discards or records the signal and counts it; it returns a disposition.
 *      When it returns CVM_DISP_ACCEPTED the target must re-evaluate: kick its
 *      thread out of the guest, or wake it if it is blocked.
 *   3. The vCPU's own thread calls cvm_lc_next() before every guest entry and
 *      after every event that concerns it. The returned action is already
 *      committed in the state machine: the caller must carry it out before it
 *      calls cvm_lc_next() again. Actions in priority order: STOP, PAUSE,
 *      INIT_RESET, SIPI entry / HOLD_RELEASE, BLOCK in wait states, RUN when an
 *      exception is pending, SMM_ENTER, INJECT_NMI, INJECT_INTR, BLOCK when
 *      halted, RUN.
 *   4. Guest-initiated events (HLT, RSM, IRET after an NMI, AP reset hold
 *      request) are reported by the vCPU's thread with cvm_lc_hlt(),
 *      cvm_lc_rsm(), cvm_lc_iret(), cvm_lc_ap_reset_hold().
 *
 * The state is plain data with no pointers and no padding (only uint8_t
 * fields): copy it, hash it, compare it with memcmp. Counters live outside the
 * state (struct cvm_counters, may be NULL) so that identical states compare
 * equal whatever their history. Nothing here locks, allocates or reads a clock.
 */

/* KVM's MP-state numbering (KVM_GET/SET_MP_STATE), kept exactly. */
enum cvm_mp_state {
	CVM_MP_RUNNABLE = 0,
	CVM_MP_UNINITIALIZED = 1, /* an AP before its first INIT (needs INIT, then SIPI) */
	CVM_MP_INIT_RECEIVED = 2, /* wait-for-SIPI */
	CVM_MP_HALTED = 3,
	CVM_MP_SIPI_RECEIVED = 4, /* wait-for-SIPI with an accepted SIPI not yet entered */
	CVM_MP_STOPPED = 5,
	CVM_MP_CHECK_STOP = 6,
	CVM_MP_OPERATING = 7,
	CVM_MP_LOAD = 8,
	CVM_MP_AP_RESET_HOLD = 9, /* parked by an AP reset hold request; woken by INIT-SIPI */
	CVM_MP_SUSPENDED = 10,
};

/* Short upper-case name of an MP state ("INIT_RECEIVED"), "?" when unknown. */
const char *cvm_mp_state_name(unsigned int mp);

/* struct cvm_lc.flags */
#define CVM_LC_BSP        0x01u /* bootstrap processor: INIT makes it RUNNABLE at the reset vector */
#define CVM_LC_PROTECTED  0x02u /* protected register state: the host never writes registers */
#define CVM_LC_BOOTED     0x04u /* the first SIPI (or power-on as BSP) has been entered */
#define CVM_LC_SMM        0x08u /* in system-management mode */
#define CVM_LC_NMI_MASKED 0x10u /* NMIs blocked: an NMI handler runs (until IRET), or in SMM */
#define CVM_LC_SMM_NMI    0x20u /* NMI blocking before SMM entry, restored by RSM */
#define CVM_LC_HOLD_INIT  0x40u /* INIT received in AP reset hold: the next SIPI releases the hold */
#define CVM_LC_RESET_DUE  0x80u /* an INIT was taken; the INIT_RESET action is still to be done */

/* struct cvm_lc.pend */
#define CVM_LC_P_INIT    0x01u /* INIT latched while blocked (SMM) */
#define CVM_LC_P_SMI     0x02u /* one SMI pending */
#define CVM_LC_P_NMI     0x04u /* one NMI pending */
#define CVM_LC_REQ_PAUSE 0x08u /* VMM asked the vCPU to pause */
#define CVM_LC_REQ_STOP  0x10u /* VMM asked the vCPU to stop for good */
#define CVM_LC_NMI_BY_HV 0x20u /* NMI blocking is tracked by the hypervisor (see cvm_lc_power_on) */

/* The whole lifecycle state of one vCPU: 5 bytes, no padding. */
struct cvm_lc {
	uint8_t mp;          /* enum cvm_mp_state */
	uint8_t flags;       /* CVM_LC_BSP ... CVM_LC_RESET_DUE */
	uint8_t pend;        /* CVM_LC_P_* and CVM_LC_REQ_* */
	uint8_t sipi_vector; /* vector of the accepted SIPI (valid in SIPI_RECEIVED) */
	uint8_t reserved;    /* always 0 (keeps memcmp/hash stable) */
};

/* What an event did with its signal. */
enum cvm_disp {
	CVM_DISP_DISCARDED = 0, /* dropped (architecturally, or moot); counted with its cause */
	CVM_DISP_ACCEPTED,      /* taken or pending and deliverable: kick / wake the vCPU */
	CVM_DISP_LATCHED,       /* pending but blocked; the vCPU lifts the block itself */
	CVM_DISP_MERGED,        /* one of its kind was already pending; folded into it */
	CVM_DISP_EXTINT,        /* (routing only) ExtINT: the caller's PIC supplies the vector */
};

/* Options for cvm_lc_power_on(). */
#define CVM_LC_OPT_BSP       0x1u /* this vCPU is the BSP */
#define CVM_LC_OPT_PROTECTED 0x2u /* protected register state (SEV-ES style AP boot) */
/*
 * The backend's hypervisor tracks NMI blocking itself (KVM: KVM_NMI queues the
 * NMI and KVM sees the guest's IRET; userspace never does). INJECT_NMI then
 * hands the NMI over without masking, and cvm_lc_iret() is never needed.
 */
#define CVM_LC_OPT_NMI_BY_HV 0x4u

/*
 * Power-on / RESET: the BSP is RUNNABLE (its registers are the RESET state of
 * core/x86_reset.h, loaded by the caller at creation), an AP is UNINITIALIZED
 * (as in KVM: it needs INIT, then SIPI). No action is pending.
 */
void cvm_lc_power_on(struct cvm_lc *s, unsigned int opts);

/* Current MP state as KVM_GET_MP_STATE would report it. */
static inline enum cvm_mp_state cvm_lc_mp_state(const struct cvm_lc *s)
{
	return (enum cvm_mp_state)s->mp;
}

static inline bool cvm_lc_in_smm(const struct cvm_lc *s)
{
	return s->flags & CVM_LC_SMM;
}

/* True in the states where the vCPU executes nothing until INIT/SIPI (wait-for-SIPI, hold, uninit). */
bool cvm_lc_waiting(const struct cvm_lc *s);

/* ---- Events (caller holds the vCPU's lock; `c` may be NULL) ---- */

/*
 * INIT (assert). Outside SMM the INIT is taken now: pending SMI and NMI are
 * cleared, NMI blocking lifts, a not-yet-entered SIPI is overwritten, the BSP
 * becomes RUNNABLE and an AP enters wait-for-SIPI (an AP in AP reset hold
 * stays held and remembers the INIT); the register reset itself is the
 * INIT_RESET action. In SMM the INIT is latched (one) and taken at RSM.
 */
enum cvm_disp cvm_lc_init(struct cvm_lc *s, struct cvm_counters *c);

/* INIT level de-assert: ignored by every modern processor; counted. */
enum cvm_disp cvm_lc_init_deassert(struct cvm_lc *s, struct cvm_counters *c);

/*
 * Start-up IPI with `vector`. Accepted only in wait-for-SIPI (or in AP reset
 * hold after an INIT); anywhere else discarded, never latched, with its cause
 * counted (SMM, running, halted, uninitialised, already pending, held).
 */
enum cvm_disp cvm_lc_sipi(struct cvm_lc *s, struct cvm_counters *c, uint8_t vector);

/* SMI: pending (deliverable) when not in SMM and not waiting; latched (one) in SMM or while waiting. */
enum cvm_disp cvm_lc_smi(struct cvm_lc *s, struct cvm_counters *c);

/* NMI: pending (one); blocked while an NMI handler runs, in SMM and while waiting. */
enum cvm_disp cvm_lc_nmi(struct cvm_lc *s, struct cvm_counters *c);

/*
 * Dispatch of an interrupt message's delivery mode to the events above:
 * mode is the ICR / redirection-entry encoding (2 SMI, 4 NMI, 5 INIT, 6
 * STARTUP); `assert` false with mode 5 is INIT level de-assert. Fixed, lowest
 * priority and ExtINT are not lifecycle signals: they return DISCARDED
 * (cvm_apic_accept() sends them to the local APIC instead).
 */
enum cvm_disp cvm_lc_deliver(struct cvm_lc *s, struct cvm_counters *c, unsigned int mode,
                             uint8_t vector, bool assert);

/*
 * RSM executed by the guest's SMI handler: leaves SMM, restores the NMI
 * blocking of before the SMI, then takes a latched INIT (unless another SMI
 * is pending: SMI has priority, the INIT stays latched until the next RSM).
 * DISCARDED (and counted as ignored) outside SMM.
 */
enum cvm_disp cvm_lc_rsm(struct cvm_lc *s, struct cvm_counters *c);

/* IRET after an NMI handler: NMIs are unblocked (also in SMM; RSM restores the pre-SMI state). */
void cvm_lc_iret(struct cvm_lc *s);

/*
 * HLT executed: RUNNABLE -> HALTED (cvm_lc_next() wakes it at once if something
 * is deliverable). Ignored and counted (event_ignored) in any other state, and
 * while an INIT taken since is still to be carried out (INIT_RESET not yet
 * returned): the HLT was executed before that INIT, which supersedes it.
 */
enum cvm_disp cvm_lc_hlt(struct cvm_lc *s, struct cvm_counters *c);

/*
 * AP reset hold requested by the guest (GHCB MSR protocol request 0x006):
 * RUNNABLE -> AP_RESET_HOLD. Only INIT followed by SIPI wakes it, and then
 * with no register change (HOLD_RELEASE). Ignored like cvm_lc_hlt() elsewhere,
 * while an INIT reset is due, and in SMM (held there, the vCPU could never
 * leave: INIT is latched in SMM and RSM would never run).
 */
enum cvm_disp cvm_lc_ap_reset_hold(struct cvm_lc *s, struct cvm_counters *c);

/* VMM requests. Pause is undone by resume; stop is final. */
void cvm_lc_request_pause(struct cvm_lc *s);
void cvm_lc_request_resume(struct cvm_lc *s);
void cvm_lc_request_stop(struct cvm_lc *s);

/* ---- The next action ---- */

/* What the caller knows and the core does not. */
struct cvm_lc_inputs {
	bool exception_pending; /* an exception is being delivered: it goes first */
	bool intr_pending;      /* the local APIC (or PIC) has an interrupt above the PPR */
	bool intr_window;       /* the guest can take it now: RFLAGS.IF=1, no STI/MOV-SS shadow,
	                           and (KVM) ready_for_interrupt_injection; for a halted vCPU: IF=1 */
};

enum cvm_lc_act {
	CVM_ACT_RUN = 0, /* enter the guest */
	CVM_ACT_BLOCK,   /* sleep until an event returns CVM_DISP_ACCEPTED (or a VMM request) */
	CVM_ACT_STOP,    /* leave the vCPU loop for good */
	CVM_ACT_PAUSE,   /* park until cvm_lc_request_resume(), then call cvm_lc_next() again */
	CVM_ACT_INIT_RESET, /* reset the local APIC for INIT (cvm_lapic_init_reset(), and its fx); unless
	                        CVM_ACTF_NO_REGS, load the INIT register state (core/x86_reset.h);
	                        with CVM_ACTF_BSP the vCPU then runs at the reset vector */
	CVM_ACT_SIPI_ENTRY,   /* unless CVM_ACTF_NO_REGS, load the SIPI entry state for `vector`;
	                        with NO_REGS (protected state) run as is, CVM_ACTF_FIRST telling it
	                        is the first boot from the measured initial state */
	CVM_ACT_HOLD_RELEASE, /* answer the AP reset hold (GHCB MSR: response 0x007, non-zero
	                         bits 63:12) and run; registers are not touched */
	CVM_ACT_SMM_ENTER,    /* enter SMM (save state to SMRAM, jump to SMBASE+0x8000) */
	CVM_ACT_INJECT_NMI,   /* inject an NMI */
	CVM_ACT_INJECT_INTR, /* acknowledge the local APIC (cvm_lapic_ack()) and inject the vector */
};

/* Short name of an action ("SIPI_ENTRY"). */
const char *cvm_lc_act_name(unsigned int act);

/* struct cvm_lc_action.flags */
#define CVM_ACTF_NO_REGS 0x1u /* do not write guest registers (protected state / AP reset hold) */
#define CVM_ACTF_FIRST   0x2u /* SIPI_ENTRY, protected: first boot of this AP */
#define CVM_ACTF_BSP     0x4u /* INIT_RESET of the BSP: it runs at the reset vector */
#define CVM_ACTF_WINDOW  0x8u /* RUN: an interrupt waits for IF=1: request an interrupt window */

struct cvm_lc_action {
	uint8_t kind;   /* enum cvm_lc_act */
	uint8_t vector; /* SIPI_ENTRY: the SIPI vector */
	uint8_t flags;  /* CVM_ACTF_* */
};

/*
 * The action the vCPU must take now, by priority (see the top of this file).
 * Commits it: the state already reflects it being done (e.g. after
 * INJECT_NMI the NMI is no longer pending and NMIs are blocked; after
 * SMM_ENTER the vCPU is in SMM; after a wake from HALTED it is RUNNABLE).
 * Call from the vCPU's own thread, with its lock held.
 */
struct cvm_lc_action cvm_lc_next(struct cvm_lc *s, struct cvm_counters *c,
                                 const struct cvm_lc_inputs *in);

#endif
