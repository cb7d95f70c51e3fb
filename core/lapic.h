/* The local APIC: xAPIC MMIO and x2APIC MSR register file, IA32_APIC_BASE, priorities, EOI and the timer. */
#ifndef COREVM_CORE_LAPIC_H
#define COREVM_CORE_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "core/apic_msg.h"
#include "core/counters.h"
#include "core/lifecycle.h"

/*
 * Contract. One struct cvm_lapic per vCPU, plain data (no pointers), owned by
 * the caller and protected by the vCPU's lock. Nothing here sleeps, locks,
 * allocates or reads a clock: time comes in as `now_ns` (any monotonic
 * nanosecond clock, the same one for all calls on one APIC) and the next
 * timer deadline comes out; the caller arms its own timer.
 *
 * Functions that count take a struct cvm_counters * (the vCPU's; may be NULL).
 * Register accesses return a status and describe their side effects in a
 * struct cvm_lapic_fx (output only; cleared on entry) that the caller carries
 * out: an IPI to route, an EOI to broadcast to the I/O APICs, a timer to
 * re-arm, a routing change to publish, a local NMI/SMI/INIT/ExtINT.
 *
 * Timer clock: the one-shot and periodic modes count at one tick per
 * bus_cycle_ns * divisor nanoseconds (KVM's default: 1 ns bus cycle).
 * TSC-deadline mode: the caller passes the guest TSC value that corresponds
 * to now_ns when it writes IA32_TSC_DEADLINE; the core converts the distance
 * to nanoseconds with tsc_khz. So any TSC model (KVM's offset/scaling, the
 * simulator's ns * khz) works without the core knowing it.
 */

/* xAPIC MMIO offsets (x2APIC MSR = 0x800 + offset / 16). */
#define CVM_APIC_ID          0x020u
#define CVM_APIC_VERSION     0x030u
#define CVM_APIC_TPR         0x080u
#define CVM_APIC_APR         0x090u
#define CVM_APIC_PPR         0x0a0u
#define CVM_APIC_EOI         0x0b0u
#define CVM_APIC_RRD         0x0c0u
#define CVM_APIC_LDR         0x0d0u
#define CVM_APIC_DFR         0x0e0u
#define CVM_APIC_SVR         0x0f0u
#define CVM_APIC_ISR         0x100u /* 8 registers, 0x100..0x170 */
#define CVM_APIC_TMR         0x180u /* 8 registers, 0x180..0x1f0 */
#define CVM_APIC_IRR         0x200u /* 8 registers, 0x200..0x270 */
#define CVM_APIC_ESR         0x280u
#define CVM_APIC_LVT_CMCI    0x2f0u
#define CVM_APIC_ICR_LO      0x300u
#define CVM_APIC_ICR_HI      0x310u
#define CVM_APIC_LVT_TIMER   0x320u
#define CVM_APIC_LVT_THERMAL 0x330u
#define CVM_APIC_LVT_PERF    0x340u
#define CVM_APIC_LVT_LINT0   0x350u
#define CVM_APIC_LVT_LINT1   0x360u
#define CVM_APIC_LVT_ERROR   0x370u
#define CVM_APIC_TMICT       0x380u /* timer initial count */
#define CVM_APIC_TMCCT       0x390u /* timer current count */
#define CVM_APIC_TDCR        0x3e0u /* timer divide configuration */
#define CVM_APIC_SELF_IPI    0x3f0u /* x2APIC only */

#define CVM_MSR_APIC_BASE    0x1bu
#define CVM_MSR_TSC_DEADLINE 0x6e0u
#define CVM_MSR_X2APIC_FIRST 0x800u
#define CVM_MSR_X2APIC_LAST  0x8ffu

/* IA32_APIC_BASE bits. */
#define CVM_APIC_BASE_BSP     (UINT64_C(1) << 8)
#define CVM_APIC_BASE_EXTD    (UINT64_C(1) << 10) /* x2APIC mode */
#define CVM_APIC_BASE_EN      (UINT64_C(1) << 11) /* global enable */
#define CVM_APIC_DEFAULT_BASE UINT64_C(0xfee00000)

/* SVR bits. */
#define CVM_SVR_ENABLE    0x100u  /* APIC software enable */
#define CVM_SVR_NO_FOCUS  0x200u  /* focus processor checking disabled */
#define CVM_SVR_NO_EOI_BC 0x1000u /* suppress EOI broadcasts (directed EOI) */

/* LVT bits. */
#define CVM_LVT_MASKED         0x10000u
#define CVM_LVT_LEVEL          0x8000u /* trigger mode (LINT0/1) */
#define CVM_LVT_REMOTE_IRR     0x4000u /* read-only (LINT0/1) */
#define CVM_LVT_TIMER_PERIODIC 0x20000u
#define CVM_LVT_TIMER_TSCDL    0x40000u

/* Version register value: version 0x14, 7 LVT entries (max index 6), EOI-broadcast suppression. */
#define CVM_APIC_VERSION_VALUE 0x01060014u

enum cvm_lvt {
	CVM_LVT_TIMER = 0,
	CVM_LVT_THERMAL,
	CVM_LVT_PERF,
	CVM_LVT_LINT0,
	CVM_LVT_LINT1,
	CVM_LVT_ERROR,
	CVM_LVT_CMCI,
	CVM_NR_LVT
};

enum cvm_apic_mode {
	CVM_APIC_MODE_DISABLED = 0, /* EN=0 EXTD=0 */
	CVM_APIC_MODE_INVALID = 1,  /* EN=0 EXTD=1 (never reachable) */
	CVM_APIC_MODE_XAPIC = 2,    /* EN=1 EXTD=0 */
	CVM_APIC_MODE_X2APIC = 3,   /* EN=1 EXTD=1 */
};

/* Timer modes (LVT timer bits 18:17). */
enum cvm_timer_mode {
	CVM_TIMER_ONESHOT = 0,
	CVM_TIMER_PERIODIC = 1,
	CVM_TIMER_TSCDL = 2,
	CVM_TIMER_RESERVED = 3, /* never fires */
};

/* Result of a register access. */
enum cvm_apic_status {
	CVM_APIC_OK = 0,
	CVM_APIC_GP,      /* the guest gets #GP(0) (x2APIC and APIC_BASE rules) */
	CVM_APIC_IGNORED, /* xAPIC: write to a read-only/reserved register dropped, read gives 0 */
};

#define CVM_NO_DEADLINE UINT64_MAX

/* struct cvm_lapic_fx.flags: side effects the caller must carry out. */
#define CVM_FX_IPI 0x01u /* route fx.ipi: cvm_apic_resolve() then cvm_apic_accept() per target */
#define CVM_FX_LOCAL \
	0x02u              /* an LVT with NMI/SMI/INIT/ExtINT delivery fired: cvm_apic_accept()
                              fx.local on this vCPU's own lapic and lifecycle */
#define CVM_FX_EOI   0x04u /* level-triggered EOI: cvm_ioapic_eoi(fx.eoi_vector) on every I/O APIC */
#define CVM_FX_TIMER 0x08u /* timer reprogrammed: re-arm at cvm_lapic_next_deadline() */
#define CVM_FX_ROUTE 0x10u /* ID, LDR, DFR, mode or enable changed: cvm_apic_bus_update() */
#define CVM_FX_BASE  0x20u /* the xAPIC MMIO page moved (cvm_lapic_mmio_base()) */

struct cvm_lapic_fx {
	uint32_t flags;
	uint8_t eoi_vector;
	struct cvm_apic_msg ipi;
	struct cvm_apic_msg local;
};

/* Fixed configuration of one local APIC, given at power-on. */
struct cvm_lapic_config {
	uint32_t apic_id;      /* initial APIC ID (= x2APIC ID; xAPIC uses bits 7:0) */
	uint16_t vcpu;         /* this vCPU's index on the routing bus (source of its IPIs) */
	bool bsp;              /* IA32_APIC_BASE.BSP */
	bool x2apic;           /* x2APIC exposed in CPUID (else EXTD is a reserved bit) */
	uint8_t phys_bits;     /* MAXPHYADDR: APIC_BASE bits at or above are reserved (0: 52) */
	uint32_t tsc_khz;      /* guest TSC frequency, for TSC-deadline mode (0: mode unusable) */
	uint32_t bus_cycle_ns; /* timer input period in ns (0: 1 ns, as KVM) */
	/*
	 * Periodic mode: expiries at least this far apart, the ticks in between
	 * folded into the next one (0: every tick). A host bound on a guest's
	 * timer rate: the count (TMCCT) still runs at the programmed rate.
	 */
	uint32_t min_period_ns;
};

/* The whole local APIC. Read fields directly only through the accessors below. */
struct cvm_lapic {
	uint64_t irr[4], isr[4], tmr[4]; /* 256-bit registers, bit v = vector v */
	uint64_t apic_base;              /* IA32_APIC_BASE */
	uint64_t tsc_deadline;           /* IA32_TSC_DEADLINE as written (0 = disarmed) */
	uint64_t timer_start_ns;         /* when the count was (re)loaded */
	uint64_t timer_deadline;         /* next expiry in ns, or CVM_NO_DEADLINE */
	uint32_t x2apic_id;              /* initial APIC ID, fixed */
	uint32_t ldr, dfr, svr, esr, esr_pending, icr_lo, icr_hi, tdcr;
	uint32_t lvt[CVM_NR_LVT];
	uint32_t tmict;       /* initial count as written */
	uint32_t timer_count; /* count at timer_start_ns */
	uint32_t tsc_khz, bus_cycle_ns;
	uint32_t min_period_ns; /* see struct cvm_lapic_config */
	uint8_t xapic_id;       /* xAPIC ID (writable in xAPIC mode) */
	uint8_t tpr;
	uint8_t phys_bits;
	uint8_t x2apic_ok;
	uint8_t lint_level; /* bit n: LINTn input asserted */
	uint8_t reserved;
	uint16_t vcpu; /* index on the routing bus */
};

/* ---- Life cycle ---- */

/* Power-up / RESET state: enabled xAPIC at 0xFEE00000, SVR 0xFF (software-disabled), LVTs masked. */
void cvm_lapic_power_on(struct cvm_lapic *a, const struct cvm_lapic_config *cfg);

/*
 * INIT: every register back to its power-up value except the APIC ID, the
 * whole IA32_APIC_BASE (mode, base, BSP) and, in x2APIC mode, the derived LDR.
 * The caller does this on the CVM_ACT_INIT_RESET action and carries out fx
 * (cleared on entry) like a register write's: the xAPIC LDR and DFR are reset,
 * so CVM_FX_ROUTE (publish with cvm_apic_bus_update(), or the vCPU keeps
 * receiving logical IPIs under its old logical ID), and the timer is stopped
 * (CVM_FX_TIMER).
 */
void cvm_lapic_init_reset(struct cvm_lapic *a, struct cvm_lapic_fx *fx);

static inline enum cvm_apic_mode cvm_lapic_mode(const struct cvm_lapic *a)
{
	return (enum cvm_apic_mode)((a->apic_base >> 10) & 3u);
}

static inline bool cvm_lapic_hw_enabled(const struct cvm_lapic *a)
{
	return a->apic_base & CVM_APIC_BASE_EN;
}

static inline bool cvm_lapic_sw_enabled(const struct cvm_lapic *a)
{
	return cvm_lapic_hw_enabled(a) && (a->svr & CVM_SVR_ENABLE);
}

static inline bool cvm_lapic_x2apic(const struct cvm_lapic *a)
{
	return cvm_lapic_mode(a) == CVM_APIC_MODE_X2APIC;
}

/* Guest-physical base of the xAPIC MMIO page (follows relocation by IA32_APIC_BASE). */
static inline uint64_t cvm_lapic_mmio_base(const struct cvm_lapic *a)
{
	return a->apic_base & ~UINT64_C(0xfff);
}

/* ---- Register access ---- */

/*
 * xAPIC MMIO, 32-bit access at `offset` (0..0xfff) from the APIC base.
 * Offsets not 16-byte aligned, reserved offsets and (for writes) read-only
 * registers give CVM_APIC_IGNORED (reads yield 0). Accesses while the APIC is
 * disabled or in x2APIC mode are IGNORED too (the page is not decoded).
 */
enum cvm_apic_status cvm_lapic_mmio_read(struct cvm_lapic *a, uint32_t offset, uint64_t now_ns,
                                         uint32_t *val);
enum cvm_apic_status cvm_lapic_mmio_write(struct cvm_lapic *a, struct cvm_counters *c,
                                          uint32_t offset, uint32_t val, uint64_t now_ns,
                                          struct cvm_lapic_fx *fx);

/*
 * x2APIC MSRs 0x800-0x8ff. CVM_APIC_GP when not in x2APIC mode, for
 * registers x2APIC does not have (APR, RRD, DFR, ICR high, reserved
 * numbers), reads of write-only registers (EOI, SELF_IPI), writes to
 * read-only registers, non-zero writes to EOI or ESR, and writes setting
 * reserved bits (including bits 63:32 of every register but the ICR).
 */
enum cvm_apic_status cvm_lapic_msr_read(struct cvm_lapic *a, uint32_t msr, uint64_t now_ns,
                                        uint64_t *val);
enum cvm_apic_status cvm_lapic_msr_write(struct cvm_lapic *a, struct cvm_counters *c, uint32_t msr,
                                         uint64_t val, uint64_t now_ns, struct cvm_lapic_fx *fx);

/* IA32_APIC_BASE. */
static inline uint64_t cvm_lapic_get_base(const struct cvm_lapic *a)
{
	return a->apic_base;
}

/*
 * Writes IA32_APIC_BASE. CVM_APIC_GP for reserved bits (0-7, 9, >= MAXPHYADDR,
 * EXTD without x2APIC in CPUID), EN=0 with EXTD=1, and (unless `host`) the
 * illegal transitions x2APIC -> xAPIC and disabled -> x2APIC. Entering
 * x2APIC mode sets the ID to the initial x2APIC ID and derives the LDR;
 * disabling resets the APIC to its power-up state (base and BSP kept). The
 * BSP bit is writable.
 */
enum cvm_apic_status cvm_lapic_set_base(struct cvm_lapic *a, uint64_t val, bool host,
                                        struct cvm_lapic_fx *fx);

/* IA32_TSC_DEADLINE: 0 unless armed (reads 0 after firing and outside TSC-deadline mode). */
uint64_t cvm_lapic_get_tsc_deadline(const struct cvm_lapic *a);

/*
 * Writes IA32_TSC_DEADLINE at now_ns, when the guest TSC reads `guest_tsc`.
 * Ignored outside TSC-deadline mode (as the SDM says); 0 disarms; a value at
 * or before guest_tsc fires at now_ns.
 */
void cvm_lapic_set_tsc_deadline(struct cvm_lapic *a, uint64_t val, uint64_t now_ns,
                                uint64_t guest_tsc, struct cvm_lapic_fx *fx);

/* ---- Interrupts ---- */

/*
 * A fixed or lowest-priority interrupt arrives: sets IRR (and TMR for level,
 * clears it for edge). DISCARDED when the APIC is disabled (hardware or
 * software) or the vector is 0-15 (receive-illegal-vector error); MERGED when
 * the vector was already in the IRR; ACCEPTED otherwise (kick the vCPU).
 */
enum cvm_disp cvm_lapic_accept_irq(struct cvm_lapic *a, struct cvm_counters *c, uint8_t vector,
                                   bool level);

/* Processor priority: TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4. */
uint8_t cvm_lapic_ppr(const struct cvm_lapic *a);

/* Arbitration priority (SDM formula) used for lowest-priority arbitration. */
uint8_t cvm_lapic_apr(const struct cvm_lapic *a);

/* TPR as the guest set it; CR8 = TPR >> 4. */
static inline uint8_t cvm_lapic_tpr(const struct cvm_lapic *a)
{
	return a->tpr;
}

/* CR8 / TPR write from outside the register file (e.g. the backend's CR8 exit). */
void cvm_lapic_set_tpr(struct cvm_lapic *a, uint8_t tpr);

/* Highest vector in the IRR whose class is above the PPR's, or -1. This is cvm_lc_inputs.intr_pending. */
int cvm_lapic_pending(const struct cvm_lapic *a);

/* Acknowledge (INTA): moves the highest deliverable vector from IRR to ISR and returns it, or -1. */
int cvm_lapic_ack(struct cvm_lapic *a, struct cvm_counters *c);

/*
 * EOI: clears the highest ISR bit and returns its vector (-1 if the ISR was
 * empty). If the vector's TMR bit is set and SVR does not suppress EOI
 * broadcasts, fx gets CVM_FX_EOI with the vector. A level-triggered LINT
 * whose vector it is gets its remote IRR cleared. Same as a write to EOI.
 */
int cvm_lapic_eoi(struct cvm_lapic *a, struct cvm_counters *c, struct cvm_lapic_fx *fx);

/*
 * LINT0/LINT1 input level change (pin 0 or 1). Per the LVT: masked -> nothing;
 * fixed -> the vector (edge on the rising edge; level while asserted and the
 * remote IRR is clear, which it then sets); NMI/SMI/INIT/ExtINT -> fx.local.
 */
enum cvm_disp cvm_lapic_lint(struct cvm_lapic *a, struct cvm_counters *c, unsigned int pin,
                             bool level, struct cvm_lapic_fx *fx);

/* A local source (thermal, performance counter, CMCI) signals through its LVT. */
enum cvm_disp cvm_lapic_lvt_fire(struct cvm_lapic *a, struct cvm_counters *c, enum cvm_lvt lvt,
                                 struct cvm_lapic_fx *fx);

/* ---- Timer ---- */

static inline enum cvm_timer_mode cvm_lapic_timer_mode(const struct cvm_lapic *a)
{
	return (enum cvm_timer_mode)((a->lvt[CVM_LVT_TIMER] >> 17) & 3u);
}

/* Divisor selected by a divide-configuration value (bits 0,1,3): 2,4,...,128, then 1 for 0b1011. */
unsigned int cvm_lapic_divisor(uint32_t tdcr);

/* Current count at now_ns (0 when idle or in TSC-deadline mode). */
uint32_t cvm_lapic_current_count(const struct cvm_lapic *a, uint64_t now_ns);

/* When the timer fires next, in ns, or CVM_NO_DEADLINE. */
static inline uint64_t cvm_lapic_next_deadline(const struct cvm_lapic *a)
{
	return a->timer_deadline;
}

/*
 * Call when now_ns >= the deadline (early calls do nothing): fires the timer
 * (LVT timer vector into the IRR unless masked), re-arms a periodic timer
 * (ticks that were missed entirely, and those due less than min_period_ns
 * after now_ns, are folded into this one and counted as timer_missed), ends
 * one-shot and TSC-deadline. Returns the next deadline.
 */
uint64_t cvm_lapic_timer_expire(struct cvm_lapic *a, struct cvm_counters *c, uint64_t now_ns);

#endif
