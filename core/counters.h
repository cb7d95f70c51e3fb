/* Per-vCPU event counters of the pure core: every latched, discarded or taken signal, by cause. */
#ifndef COREVM_CORE_COUNTERS_H
#define COREVM_CORE_COUNTERS_H

#include <stdint.h>

/*
 * One list, used for the enum and for the stable names that backends and the
 * simulator print (the names are part of the --stats JSON and of simulator
 * traces: never rename one, only add). X(ENUM_SUFFIX, "name").
 *
 * Conservation (the model checker verifies it on every transition):
 *   SMIs in  = SMI_TAKEN + SMI_MERGED + SMI_CLEARED_BY_INIT + change in "SMI pending"
 *   NMIs in  = NMI_INJECTED + NMI_MERGED + NMI_CLEARED_BY_INIT + change in "NMI pending"
 *   SIPIs in = SIPI_ACCEPTED + every SIPI_DISCARDED_* cause
 * The *_LATCHED_* counters say why a pending signal had to wait; they are not
 * part of the sums.
 */
#define CVM_COUNTER_LIST(X)                                                                       \
	/* INIT */                                                                                \
	X(INIT_TAKEN, "init_taken")                       /* INIT reset performed */              \
	X(INIT_LATCHED_SMM, "init_latched_smm")           /* blocked in SMM, taken after RSM */   \
	X(INIT_MERGED, "init_merged")                     /* INIT while one was latched */        \
	X(INIT_DEASSERT_IGNORED, "init_deassert_ignored") /* INIT level de-assert */              \
	/* SIPI */                                                                                \
	X(SIPI_ACCEPTED, "sipi_accepted")                       /* in wait-for-SIPI */            \
	X(SIPI_DISCARDED_SMM, "sipi_discarded_smm")             /* in SMM */                      \
	X(SIPI_DISCARDED_RUNNING, "sipi_discarded_running")     /* RUNNABLE */                    \
	X(SIPI_DISCARDED_HALTED, "sipi_discarded_halted")       /* HALTED */                      \
	X(SIPI_DISCARDED_UNINIT, "sipi_discarded_uninit")       /* UNINITIALIZED: no INIT yet */  \
	X(SIPI_DISCARDED_PENDING, "sipi_discarded_pending")     /* a SIPI was already accepted */ \
	X(SIPI_DISCARDED_HOLD, "sipi_discarded_hold")           /* AP reset hold without INIT */  \
	X(SIPI_DISCARDED_OTHER, "sipi_discarded_other")         /* any other MP state */          \
	X(SIPI_OVERWRITTEN_BY_INIT, "sipi_overwritten_by_init") /* accepted, not yet entered */   \
	/* SMI and SMM */                                                                         \
	X(SMI_TAKEN, "smi_taken")                     /* SMM entries */                           \
	X(SMI_LATCHED_SMM, "smi_latched_smm")         /* one SMI held while in SMM */             \
	X(SMI_LATCHED_WAIT, "smi_latched_wait")       /* held in wait-for-SIPI / hold */          \
	X(SMI_MERGED, "smi_merged")                   /* SMI while one was already pending */     \
	X(SMI_CLEARED_BY_INIT, "smi_cleared_by_init") /* pending SMI dropped by INIT */           \
	X(RSM, "rsm")                                                                             \
	/* NMI */                                                                                 \
	X(NMI_INJECTED, "nmi_injected")                                                           \
	X(NMI_LATCHED_SMM, "nmi_latched_smm")         /* blocked by SMM */                        \
	X(NMI_LATCHED_WAIT, "nmi_latched_wait")       /* blocked in wait-for-SIPI / hold */       \
	X(NMI_LATCHED_BLOCKED, "nmi_latched_blocked") /* an NMI handler is running */             \
	X(NMI_MERGED, "nmi_merged")                   /* NMI while one was already pending */     \
	X(NMI_CLEARED_BY_INIT, "nmi_cleared_by_init")                                             \
	/* interrupts, HLT, wakeups */                                                            \
	X(INTR_INJECTED, "intr_injected")                                                         \
	X(HALTS, "halts")                                                                         \
	X(WAKE_INTR, "wake_intr")                                                                 \
	X(WAKE_NMI, "wake_nmi")                                                                   \
	X(WAKE_SMI, "wake_smi")                                                                   \
	X(WAKE_INIT, "wake_init")                                                                 \
	/* AP reset hold (protected register state) */                                            \
	X(HOLD_REQUESTS, "hold_requests")                                                         \
	X(HOLD_INIT, "hold_init")         /* INIT received while held */                          \
	X(HOLD_RELEASES, "hold_releases") /* woken by INIT-SIPI */                                \
	/* VMM requests and events that did not apply */                                          \
	X(PAUSES, "pauses")                                                                       \
	X(EVENT_IGNORED, "event_ignored") /* HLT/RSM/hold request in a state where it is moot */  \
	/* local APIC */                                                                          \
	X(IRQ_ACCEPTED, "irq_accepted")                   /* fixed interrupt set in IRR */        \
	X(IRQ_COALESCED, "irq_coalesced")                 /* vector already in IRR */             \
	X(IRQ_REJECTED_DISABLED, "irq_rejected_disabled") /* APIC software-disabled */            \
	X(IRQ_ILLEGAL_VECTOR, "irq_illegal_vector")       /* vector 0-15 */                       \
	X(IRQ_EXTINT, "irq_extint") /* ExtINT: the PIC supplies the vector */                     \
	X(EOI, "eoi")                                                                             \
	X(EOI_BROADCAST, "eoi_broadcast") /* level-triggered: told to the I/O APIC */             \
	X(TIMER_FIRED, "timer_fired")                                                             \
	X(TIMER_MISSED, "timer_missed") /* periodic ticks folded into one (late caller) */

enum cvm_counter {
#define CVM_COUNTER_ENUM(e, name) CVM_CTR_##e,
	CVM_COUNTER_LIST(CVM_COUNTER_ENUM)
#undef CVM_COUNTER_ENUM
	        CVM_CTR_NR
};

/* Plain data: zero-initialise; the owner of the vCPU owns it (no locking inside). */
struct cvm_counters {
	uint64_t n[CVM_CTR_NR];
};

/* Stable name of a counter ("sipi_discarded_smm"), or "?" when out of range. */
const char *cvm_counter_name(unsigned int id);

/* Counts one event; `c` may be NULL (the model checker and some tests do not count). */
static inline void cvm_count(struct cvm_counters *c, enum cvm_counter id)
{
	if (c)
		c->n[id]++;
}

#endif
