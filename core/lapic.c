/* The local APIC: register file in both access forms, priorities, acceptance, EOI, LINT/LVT and the timer. */
#include "core/lapic.h"

#include <string.h>

/* ESR bits (SDM vol. 3A, "Error Handling"). */
#define ESR_SEND_ILLEGAL 0x20u
#define ESR_RECV_ILLEGAL 0x40u
#define ESR_ILLEGAL_REG  0x80u

/* Writable bits per register; in x2APIC mode any other bit set (but read-only ones) is #GP. */
#define TPR_MASK        0xffu
#define SVR_MASK        (0xffu | CVM_SVR_ENABLE | CVM_SVR_NO_FOCUS | CVM_SVR_NO_EOI_BC)
#define TDCR_MASK       0xbu
#define ICR_LO_MASK     0x000ccfffu /* vector, mode, dest mode, level, trigger, shorthand */
#define ICR_X2_RESERVED (0xfff00000u | 0x30000u | 0x3000u)
#define LVT_DS          0x1000u /* delivery status: read-only, always 0 here */

static const uint32_t lvt_mask[CVM_NR_LVT] = {
        [CVM_LVT_TIMER] = 0xffu | CVM_LVT_MASKED | CVM_LVT_TIMER_PERIODIC | CVM_LVT_TIMER_TSCDL,
        [CVM_LVT_THERMAL] = 0x7ffu | CVM_LVT_MASKED,
        [CVM_LVT_PERF] = 0x7ffu | CVM_LVT_MASKED,
        [CVM_LVT_LINT0] = 0x7ffu | 0x2000u | CVM_LVT_LEVEL | CVM_LVT_MASKED,
        [CVM_LVT_LINT1] = 0x7ffu | 0x2000u | CVM_LVT_LEVEL | CVM_LVT_MASKED,
        [CVM_LVT_ERROR] = 0xffu | CVM_LVT_MASKED,
        [CVM_LVT_CMCI] = 0x7ffu | CVM_LVT_MASKED,
};

static const uint32_t lvt_readonly[CVM_NR_LVT] = {
        [CVM_LVT_TIMER] = LVT_DS,
        [CVM_LVT_THERMAL] = LVT_DS,
        [CVM_LVT_PERF] = LVT_DS,
        [CVM_LVT_LINT0] = LVT_DS | CVM_LVT_REMOTE_IRR,
        [CVM_LVT_LINT1] = LVT_DS | CVM_LVT_REMOTE_IRR,
        [CVM_LVT_ERROR] = LVT_DS,
        [CVM_LVT_CMCI] = LVT_DS,
};

/* ---- 256-bit register helpers ---- */

static int highest(const uint64_t v[4])
{
	for (int w = 3; w >= 0; w--)
		if (v[w])
			return w * 64 + 63 - __builtin_clzll(v[w]);
	return -1;
}

static void set256(uint64_t v[4], unsigned int bit)
{
	v[bit / 64] |= UINT64_C(1) << (bit % 64);
}

static void clear256(uint64_t v[4], unsigned int bit)
{
	v[bit / 64] &= ~(UINT64_C(1) << (bit % 64));
}

static bool test256(const uint64_t v[4], unsigned int bit)
{
	return (v[bit / 64] >> (bit % 64)) & 1u;
}

static uint32_t chunk256(const uint64_t v[4], unsigned int idx)
{
	return (uint32_t)(v[idx / 2] >> ((idx % 2) * 32));
}

static uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xfu));
}

/* ---- Reset ---- */

/* Everything INIT resets: all but the IDs, IA32_APIC_BASE and the LINT input levels. */
static void reset_registers(struct cvm_lapic *a)
{
	memset(a->irr, 0, sizeof(a->irr));
	memset(a->isr, 0, sizeof(a->isr));
	memset(a->tmr, 0, sizeof(a->tmr));
	a->tpr = 0;
	a->ldr = cvm_lapic_x2apic(a) ? x2apic_ldr(a->x2apic_id) : 0;
	a->dfr = 0xffffffffu;
	a->svr = 0xffu;
	a->esr = a->esr_pending = 0;
	a->icr_lo = a->icr_hi = 0;
	a->tdcr = 0;
	for (unsigned int i = 0; i < CVM_NR_LVT; i++)
		a->lvt[i] = CVM_LVT_MASKED;
	a->tmict = a->timer_count = 0;
	a->tsc_deadline = 0;
	a->timer_start_ns = 0;
	a->timer_deadline = CVM_NO_DEADLINE;
}

void cvm_lapic_power_on(struct cvm_lapic *a, const struct cvm_lapic_config *cfg)
{
	memset(a, 0, sizeof(*a));
	a->x2apic_id = cfg->apic_id;
	a->xapic_id = (uint8_t)cfg->apic_id;
	a->vcpu = cfg->vcpu;
	a->phys_bits = cfg->phys_bits && cfg->phys_bits < 52 ? cfg->phys_bits : 52;
	a->x2apic_ok = cfg->x2apic;
	a->tsc_khz = cfg->tsc_khz;
	a->bus_cycle_ns = cfg->bus_cycle_ns ? cfg->bus_cycle_ns : 1;
	a->min_period_ns = cfg->min_period_ns;
	a->apic_base =
	        CVM_APIC_DEFAULT_BASE | CVM_APIC_BASE_EN | (cfg->bsp ? CVM_APIC_BASE_BSP : 0);
	reset_registers(a);
}

void cvm_lapic_init_reset(struct cvm_lapic *a, struct cvm_lapic_fx *fx)
{
	reset_registers(a);
	fx->flags = CVM_FX_ROUTE | CVM_FX_TIMER;
}

/* ---- Priorities ---- */

uint8_t cvm_lapic_ppr(const struct cvm_lapic *a)
{
	int isrv = highest(a->isr);
	uint8_t isr_class = isrv < 0 ? 0 : (uint8_t)(isrv & 0xf0);

	return (a->tpr & 0xf0) >= isr_class ? a->tpr : isr_class;
}

/*
 * SDM: APR = TPR if TPR[7:4] >= IRRV[7:4] and TPR[7:4] > ISRV[7:4]; else
 * APR[7:4] is the largest of the three classes and APR[3:0] = 0.
 */
uint8_t cvm_lapic_apr(const struct cvm_lapic *a)
{
	int irrv = highest(a->irr), isrv = highest(a->isr);
	unsigned int tc = a->tpr >> 4, ic = irrv < 0 ? 0 : (unsigned int)irrv >> 4;
	unsigned int sc = isrv < 0 ? 0 : (unsigned int)isrv >> 4;
	unsigned int m;

	if (tc >= ic && tc > sc)
		return a->tpr;
	m = tc > ic ? tc : ic;
	m = m > sc ? m : sc;
	return (uint8_t)(m << 4);
}

void cvm_lapic_set_tpr(struct cvm_lapic *a, uint8_t tpr)
{
	a->tpr = tpr;
}

int cvm_lapic_pending(const struct cvm_lapic *a)
{
	int irrv = highest(a->irr);

	if (irrv < 0 || !cvm_lapic_hw_enabled(a))
		return -1;
	return (irrv & 0xf0) > (cvm_lapic_ppr(a) & 0xf0) ? irrv : -1;
}

int cvm_lapic_ack(struct cvm_lapic *a, struct cvm_counters *c)
{
	int v = cvm_lapic_pending(a);

	(void)c;
	if (v < 0)
		return -1;
	clear256(a->irr, (unsigned int)v);
	set256(a->isr, (unsigned int)v);
	return v;
}

/* ---- Acceptance ---- */

static void raise_error(struct cvm_lapic *a, struct cvm_counters *c, uint32_t bits);

enum cvm_disp cvm_lapic_accept_irq(struct cvm_lapic *a, struct cvm_counters *c, uint8_t vector,
                                   bool level)
{
	if (!cvm_lapic_sw_enabled(a)) {
		cvm_count(c, CVM_CTR_IRQ_REJECTED_DISABLED);
		return CVM_DISP_DISCARDED;
	}
	if (vector < 16) {
		cvm_count(c, CVM_CTR_IRQ_ILLEGAL_VECTOR);
		raise_error(a, c, ESR_RECV_ILLEGAL);
		return CVM_DISP_DISCARDED;
	}
	if (level)
		set256(a->tmr, vector);
	else
		clear256(a->tmr, vector);
	if (test256(a->irr, vector)) {
		cvm_count(c, CVM_CTR_IRQ_COALESCED);
		return CVM_DISP_MERGED;
	}
	set256(a->irr, vector);
	cvm_count(c, CVM_CTR_IRQ_ACCEPTED);
	return CVM_DISP_ACCEPTED;
}

/* Logs an error; the error LVT then interrupts unless masked (an illegal error vector stops there). */
static void raise_error(struct cvm_lapic *a, struct cvm_counters *c, uint32_t bits)
{
	uint32_t lvt = a->lvt[CVM_LVT_ERROR];
	uint8_t vec = (uint8_t)lvt;

	a->esr_pending |= bits;
	if ((lvt & CVM_LVT_MASKED) || !cvm_lapic_sw_enabled(a))
		return;
	if (vec < 16) {
		a->esr_pending |= ESR_RECV_ILLEGAL;
		return;
	}
	cvm_lapic_accept_irq(a, c, vec, false);
}

/* An LVT entry with delivery mode `dm` signals: fixed into the IRR, the rest as a local message. */
static enum cvm_disp fire_local(struct cvm_lapic *a, struct cvm_counters *c, uint32_t lvt,
                                bool level, struct cvm_lapic_fx *fx)
{
	unsigned int dm = (lvt >> 8) & 7u;

	switch (dm) {
	case CVM_DM_FIXED:
		return cvm_lapic_accept_irq(a, c, (uint8_t)lvt, level);
	case CVM_DM_SMI:
	case CVM_DM_NMI:
	case CVM_DM_INIT:
	case CVM_DM_EXTINT:
		fx->flags |= CVM_FX_LOCAL;
		fx->local = (struct cvm_apic_msg){
		        .dest = cvm_lapic_x2apic(a) ? a->x2apic_id : a->xapic_id,
		        .src = a->vcpu,
		        .vector = (uint8_t)lvt,
		        .mode = (uint8_t)dm,
		        .shorthand = CVM_SH_SELF,
		        .flags = CVM_MSG_ASSERT | (cvm_lapic_x2apic(a) ? CVM_MSG_X2APIC : 0),
		};
		return CVM_DISP_ACCEPTED;
	default:
		return CVM_DISP_DISCARDED;
	}
}

enum cvm_disp cvm_lapic_lint(struct cvm_lapic *a, struct cvm_counters *c, unsigned int pin,
                             bool level, struct cvm_lapic_fx *fx)
{
	uint32_t *lvt;
	bool was;

	fx->flags = 0;
	if (pin > 1)
		return CVM_DISP_DISCARDED;
	lvt = &a->lvt[CVM_LVT_LINT0 + pin];
	was = (a->lint_level >> pin) & 1u;
	a->lint_level = (uint8_t)((a->lint_level & ~(1u << pin)) | ((unsigned int)level << pin));
	if ((*lvt & CVM_LVT_MASKED) || !cvm_lapic_hw_enabled(a) || !level)
		return CVM_DISP_DISCARDED;
	if ((*lvt & CVM_LVT_LEVEL) && ((*lvt >> 8) & 7u) == CVM_DM_FIXED) {
		if (*lvt & CVM_LVT_REMOTE_IRR)
			return CVM_DISP_MERGED;
		*lvt |= CVM_LVT_REMOTE_IRR;
		return fire_local(a, c, *lvt, true, fx);
	}
	if (was)
		return CVM_DISP_MERGED; /* no rising edge */
	return fire_local(a, c, *lvt, false, fx);
}

enum cvm_disp cvm_lapic_lvt_fire(struct cvm_lapic *a, struct cvm_counters *c, enum cvm_lvt lvt,
                                 struct cvm_lapic_fx *fx)
{
	fx->flags = 0;
	if ((unsigned int)lvt >= CVM_NR_LVT || (a->lvt[lvt] & CVM_LVT_MASKED) ||
	    !cvm_lapic_hw_enabled(a))
		return CVM_DISP_DISCARDED;
	if (lvt == CVM_LVT_TIMER || lvt == CVM_LVT_ERROR) /* fixed delivery only */
		return cvm_lapic_accept_irq(a, c, (uint8_t)a->lvt[lvt], false);
	return fire_local(a, c, a->lvt[lvt], false, fx);
}

int cvm_lapic_eoi(struct cvm_lapic *a, struct cvm_counters *c, struct cvm_lapic_fx *fx)
{
	int v = highest(a->isr);

	if (v < 0)
		return -1;
	clear256(a->isr, (unsigned int)v);
	cvm_count(c, CVM_CTR_EOI);
	if (test256(a->tmr, (unsigned int)v) && !(a->svr & CVM_SVR_NO_EOI_BC)) {
		fx->flags |= CVM_FX_EOI;
		fx->eoi_vector = (uint8_t)v;
		cvm_count(c, CVM_CTR_EOI_BROADCAST);
	}
	for (unsigned int pin = 0; pin < 2; pin++) {
		uint32_t *lvt = &a->lvt[CVM_LVT_LINT0 + pin];
		if (!(*lvt & CVM_LVT_REMOTE_IRR) || (uint8_t)*lvt != v)
			continue;
		*lvt &= ~CVM_LVT_REMOTE_IRR;
		/* Still asserted: a level-triggered input interrupts again. */
		if (((a->lint_level >> pin) & 1u) && !(*lvt & CVM_LVT_MASKED)) {
			*lvt |= CVM_LVT_REMOTE_IRR;
			cvm_lapic_accept_irq(a, c, (uint8_t)*lvt, true);
		}
	}
	return v;
}

/* ---- Timer ---- */

unsigned int cvm_lapic_divisor(uint32_t tdcr)
{
	unsigned int code = (tdcr & 3u) | ((tdcr >> 1) & 4u);
	return 1u << ((code + 1) & 7u);
}

static uint64_t tick_ns(const struct cvm_lapic *a)
{
	return (uint64_t)a->bus_cycle_ns * cvm_lapic_divisor(a->tdcr);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > CVM_NO_DEADLINE - 1 - b ? CVM_NO_DEADLINE - 1 : a + b;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
	__extension__ unsigned __int128 p = (unsigned __int128)a * b;
	return p >= CVM_NO_DEADLINE ? CVM_NO_DEADLINE - 1 : (uint64_t)p;
}

static bool counting_mode(const struct cvm_lapic *a)
{
	enum cvm_timer_mode m = cvm_lapic_timer_mode(a);
	return m == CVM_TIMER_ONESHOT || m == CVM_TIMER_PERIODIC;
}

/* (Re)starts the count at `count` ticks from now_ns; 0 stops the timer. */
static void start_count(struct cvm_lapic *a, uint32_t count, uint64_t now_ns)
{
	a->timer_start_ns = now_ns;
	a->timer_count = count;
	if (!count || !counting_mode(a) || !cvm_lapic_hw_enabled(a))
		a->timer_deadline = CVM_NO_DEADLINE;
	else
		a->timer_deadline = add_sat(now_ns, mul_sat(count, tick_ns(a)));
}

uint32_t cvm_lapic_current_count(const struct cvm_lapic *a, uint64_t now_ns)
{
	uint64_t ticks;

	if (!counting_mode(a) || !a->timer_count)
		return 0;
	if (cvm_lapic_timer_mode(a) == CVM_TIMER_ONESHOT && a->timer_deadline == CVM_NO_DEADLINE)
		return 0;
	ticks = now_ns > a->timer_start_ns ? (now_ns - a->timer_start_ns) / tick_ns(a) : 0;
	if (ticks < a->timer_count)
		return (uint32_t)(a->timer_count - ticks);
	if (cvm_lapic_timer_mode(a) == CVM_TIMER_ONESHOT || !a->tmict)
		return 0;
	return (uint32_t)(a->tmict - (ticks - a->timer_count) % a->tmict);
}

uint64_t cvm_lapic_timer_expire(struct cvm_lapic *a, struct cvm_counters *c, uint64_t now_ns)
{
	uint64_t due = a->timer_deadline;

	if (due == CVM_NO_DEADLINE || now_ns < due)
		return due;
	cvm_count(c, CVM_CTR_TIMER_FIRED);
	if (!(a->lvt[CVM_LVT_TIMER] & CVM_LVT_MASKED))
		cvm_lapic_accept_irq(a, c, (uint8_t)a->lvt[CVM_LVT_TIMER], false);
	if (cvm_lapic_timer_mode(a) == CVM_TIMER_PERIODIC && a->tmict) {
		uint64_t period = mul_sat(a->tmict, tick_ns(a));
		uint64_t missed = (now_ns - due) / period;
		uint64_t next = add_sat(due, mul_sat(missed + 1, period));
		uint64_t floor = add_sat(now_ns, a->min_period_ns);
		if (next < floor) {
			/* Due too soon after this one: those ticks fold into the next expiry. */
			uint64_t gap = floor - next;
			uint64_t more = gap / period + (gap % period != 0);
			missed += more;
			next = add_sat(next, mul_sat(more, period));
		}
		if (missed && c)
			c->n[CVM_CTR_TIMER_MISSED] += missed;
		a->timer_deadline = next;
	} else {
		a->timer_deadline = CVM_NO_DEADLINE;
		a->tsc_deadline = 0;
	}
	return a->timer_deadline;
}

uint64_t cvm_lapic_get_tsc_deadline(const struct cvm_lapic *a)
{
	return cvm_lapic_timer_mode(a) == CVM_TIMER_TSCDL ? a->tsc_deadline : 0;
}

void cvm_lapic_set_tsc_deadline(struct cvm_lapic *a, uint64_t val, uint64_t now_ns,
                                uint64_t guest_tsc, struct cvm_lapic_fx *fx)
{
	fx->flags = 0;
	if (cvm_lapic_timer_mode(a) != CVM_TIMER_TSCDL || !cvm_lapic_hw_enabled(a))
		return;
	fx->flags |= CVM_FX_TIMER;
	a->tsc_deadline = val;
	if (!val || !a->tsc_khz) {
		a->timer_deadline = CVM_NO_DEADLINE;
	} else if (val <= guest_tsc) {
		a->timer_deadline = now_ns;
	} else {
		__extension__ unsigned __int128 ns =
		        (unsigned __int128)(val - guest_tsc) * 1000000u / a->tsc_khz;
		a->timer_deadline =
		        ns >= CVM_NO_DEADLINE ? CVM_NO_DEADLINE - 1 : add_sat(now_ns, (uint64_t)ns);
	}
}

/* ---- Register file ---- */

void cvm_apic_msg_from_icr(struct cvm_apic_msg *m, uint64_t icr, bool x2apic, unsigned int src)
{
	uint32_t lo = (uint32_t)icr;
	unsigned int mode = (lo >> 8) & 7u;
	bool level = lo & 0x8000u, assert = lo & 0x4000u;

	*m = (struct cvm_apic_msg){
	        .dest = x2apic ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56),
	        .src = (uint16_t)src,
	        .vector = (uint8_t)lo,
	        .mode = (uint8_t)mode,
	        .shorthand = (uint8_t)((lo >> 18) & 3u),
	};
	if (lo & 0x800u)
		m->flags |= CVM_MSG_LOGICAL;
	if (level)
		m->flags |= CVM_MSG_LEVEL;
	if (!(mode == CVM_DM_INIT && level && !assert))
		m->flags |= CVM_MSG_ASSERT;
	if (x2apic)
		m->flags |= CVM_MSG_X2APIC;
}

/* The ICR was written: produce the IPI (or log a send error). */
static void send_icr(struct cvm_lapic *a, struct cvm_counters *c, struct cvm_lapic_fx *fx)
{
	bool x2 = cvm_lapic_x2apic(a);
	uint64_t icr = ((uint64_t)a->icr_hi << 32) | a->icr_lo;
	struct cvm_apic_msg m;

	cvm_apic_msg_from_icr(&m, icr, x2, a->vcpu);
	if (m.mode == CVM_DM_RESERVED3 || m.mode == CVM_DM_EXTINT)
		return;
	if ((m.mode == CVM_DM_FIXED || m.mode == CVM_DM_LOWEST) && m.vector < 16) {
		raise_error(a, c, ESR_SEND_ILLEGAL);
		return;
	}
	fx->flags |= CVM_FX_IPI;
	fx->ipi = m;
}

/* LVT index of a register offset, or -1. */
static int lvt_index(uint32_t off)
{
	if (off == CVM_APIC_LVT_CMCI)
		return CVM_LVT_CMCI;
	if (off >= CVM_APIC_LVT_TIMER && off <= CVM_APIC_LVT_ERROR)
		return (int)((off - CVM_APIC_LVT_TIMER) / 16);
	return -1;
}

static enum cvm_apic_status reg_read(struct cvm_lapic *a, uint32_t off, uint64_t now_ns,
                                     uint32_t *val, bool x2)
{
	*val = 0;
	if (lvt_index(off) >= 0) {
		*val = a->lvt[lvt_index(off)];
		return CVM_APIC_OK;
	}
	if (off >= CVM_APIC_ISR && off < CVM_APIC_ESR) {
		unsigned int idx = (off - CVM_APIC_ISR) / 16;
		const uint64_t *r = idx < 8 ? a->isr : idx < 16 ? a->tmr : a->irr;
		*val = chunk256(r, idx % 8);
		return CVM_APIC_OK;
	}
	switch (off) {
	case CVM_APIC_ID:
		*val = x2 ? a->x2apic_id : (uint32_t)a->xapic_id << 24;
		return CVM_APIC_OK;
	case CVM_APIC_VERSION:
		*val = CVM_APIC_VERSION_VALUE;
		return CVM_APIC_OK;
	case CVM_APIC_TPR:
		*val = a->tpr;
		return CVM_APIC_OK;
	case CVM_APIC_APR:
		if (x2)
			return CVM_APIC_GP;
		*val = cvm_lapic_apr(a);
		return CVM_APIC_OK;
	case CVM_APIC_PPR:
		*val = cvm_lapic_ppr(a);
		return CVM_APIC_OK;
	case CVM_APIC_LDR:
		*val = a->ldr;
		return CVM_APIC_OK;
	case CVM_APIC_RRD: /* remote read: obsolete, reads as invalid (0) in xAPIC */
	case CVM_APIC_DFR:
	case CVM_APIC_ICR_HI:
		if (x2)
			return CVM_APIC_GP;
		*val = off == CVM_APIC_DFR ? a->dfr : off == CVM_APIC_ICR_HI ? a->icr_hi : 0;
		return CVM_APIC_OK;
	case CVM_APIC_SVR:
		*val = a->svr;
		return CVM_APIC_OK;
	case CVM_APIC_ESR:
		*val = a->esr;
		return CVM_APIC_OK;
	case CVM_APIC_ICR_LO:
		*val = a->icr_lo;
		return CVM_APIC_OK;
	case CVM_APIC_TMICT:
		*val = a->tmict;
		return CVM_APIC_OK;
	case CVM_APIC_TMCCT:
		*val = cvm_lapic_current_count(a, now_ns);
		return CVM_APIC_OK;
	case CVM_APIC_TDCR:
		*val = a->tdcr;
		return CVM_APIC_OK;
	case CVM_APIC_EOI:
	case CVM_APIC_SELF_IPI: /* write-only (SELF_IPI: x2APIC only) */
		return x2 ? CVM_APIC_GP : CVM_APIC_IGNORED;
	default:
		if (x2)
			return CVM_APIC_GP;
		a->esr_pending |= ESR_ILLEGAL_REG;
		return CVM_APIC_IGNORED;
	}
}

static enum cvm_apic_status write_lvt(struct cvm_lapic *a, unsigned int i, uint32_t val, bool x2,
                                      struct cvm_lapic_fx *fx)
{
	enum cvm_timer_mode old = cvm_lapic_timer_mode(a);

	if (x2 && (val & ~(lvt_mask[i] | lvt_readonly[i])))
		return CVM_APIC_GP;
	val = (val & lvt_mask[i]) | (a->lvt[i] & lvt_readonly[i]);
	if (!(a->svr & CVM_SVR_ENABLE))
		val |= CVM_LVT_MASKED; /* software-disabled: masks stay set */
	a->lvt[i] = val;
	if (i == CVM_LVT_TIMER && cvm_lapic_timer_mode(a) != old) {
		/* A mode switch disarms the timer. */
		a->tmict = a->timer_count = 0;
		a->tsc_deadline = 0;
		a->timer_deadline = CVM_NO_DEADLINE;
		fx->flags |= CVM_FX_TIMER;
	}
	return CVM_APIC_OK;
}

static enum cvm_apic_status reg_write(struct cvm_lapic *a, struct cvm_counters *c, uint32_t off,
                                      uint32_t val, uint64_t now_ns, bool x2,
                                      struct cvm_lapic_fx *fx)
{
	if (lvt_index(off) >= 0)
		return write_lvt(a, (unsigned int)lvt_index(off), val, x2, fx);
	switch (off) {
	case CVM_APIC_ID:
		if (x2)
			return CVM_APIC_GP;
		a->xapic_id = (uint8_t)(val >> 24);
		fx->flags |= CVM_FX_ROUTE;
		return CVM_APIC_OK;
	case CVM_APIC_TPR:
		if (x2 && (val & ~TPR_MASK))
			return CVM_APIC_GP;
		a->tpr = (uint8_t)val;
		return CVM_APIC_OK;
	case CVM_APIC_EOI:
		if (x2 && val)
			return CVM_APIC_GP;
		cvm_lapic_eoi(a, c, fx);
		return CVM_APIC_OK;
	case CVM_APIC_LDR:
		if (x2)
			return CVM_APIC_GP;
		a->ldr = val & 0xff000000u;
		fx->flags |= CVM_FX_ROUTE;
		return CVM_APIC_OK;
	case CVM_APIC_DFR:
		if (x2)
			return CVM_APIC_GP;
		a->dfr = val | 0x0fffffffu;
		fx->flags |= CVM_FX_ROUTE;
		return CVM_APIC_OK;
	case CVM_APIC_SVR:
		if (x2 && (val & ~SVR_MASK))
			return CVM_APIC_GP;
		a->svr = val & SVR_MASK;
		if (!(a->svr & CVM_SVR_ENABLE))
			for (unsigned int i = 0; i < CVM_NR_LVT; i++)
				a->lvt[i] |= CVM_LVT_MASKED;
		return CVM_APIC_OK;
	case CVM_APIC_ESR:
		if (x2 && val)
			return CVM_APIC_GP;
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return CVM_APIC_OK;
	case CVM_APIC_ICR_LO:
		a->icr_lo = val & ICR_LO_MASK;
		send_icr(a, c, fx);
		return CVM_APIC_OK;
	case CVM_APIC_ICR_HI:
		if (x2)
			return CVM_APIC_GP;
		a->icr_hi = val & 0xff000000u;
		return CVM_APIC_OK;
	case CVM_APIC_TMICT:
		if (!counting_mode(a))
			return CVM_APIC_OK; /* ignored in TSC-deadline mode */
		a->tmict = val;
		start_count(a, val, now_ns);
		fx->flags |= CVM_FX_TIMER;
		return CVM_APIC_OK;
	case CVM_APIC_TDCR:
		if (x2 && (val & ~TDCR_MASK))
			return CVM_APIC_GP;
		if (a->timer_deadline != CVM_NO_DEADLINE && counting_mode(a)) {
			/* Keep the count reached so far; count on at the new rate. */
			uint32_t left = cvm_lapic_current_count(a, now_ns);
			a->tdcr = val & TDCR_MASK;
			start_count(a, left, now_ns);
			fx->flags |= CVM_FX_TIMER;
		} else {
			a->tdcr = val & TDCR_MASK;
		}
		return CVM_APIC_OK;
	case CVM_APIC_SELF_IPI:
		if (!x2)
			break;
		if (val & ~0xffu)
			return CVM_APIC_GP;
		a->icr_lo = (val & 0xffu) | ((uint32_t)CVM_SH_SELF << 18);
		a->icr_hi = 0;
		send_icr(a, c, fx);
		return CVM_APIC_OK;
	default:
		break;
	}
	/* Read-only or reserved. */
	if (x2)
		return CVM_APIC_GP;
	if (!(off == CVM_APIC_VERSION || off == CVM_APIC_APR || off == CVM_APIC_PPR ||
	      off == CVM_APIC_RRD || off == CVM_APIC_TMCCT ||
	      (off >= CVM_APIC_ISR && off < CVM_APIC_ESR)))
		a->esr_pending |= ESR_ILLEGAL_REG;
	return CVM_APIC_IGNORED;
}

static bool mmio_decoded(const struct cvm_lapic *a, uint32_t offset)
{
	return cvm_lapic_mode(a) == CVM_APIC_MODE_XAPIC && offset <= 0x3f0u && !(offset & 0xfu);
}

enum cvm_apic_status cvm_lapic_mmio_read(struct cvm_lapic *a, uint32_t offset, uint64_t now_ns,
                                         uint32_t *val)
{
	*val = 0;
	if (!mmio_decoded(a, offset))
		return CVM_APIC_IGNORED;
	return reg_read(a, offset, now_ns, val, false);
}

enum cvm_apic_status cvm_lapic_mmio_write(struct cvm_lapic *a, struct cvm_counters *c,
                                          uint32_t offset, uint32_t val, uint64_t now_ns,
                                          struct cvm_lapic_fx *fx)
{
	fx->flags = 0;
	if (!mmio_decoded(a, offset))
		return CVM_APIC_IGNORED;
	return reg_write(a, c, offset, val, now_ns, false, fx);
}

enum cvm_apic_status cvm_lapic_msr_read(struct cvm_lapic *a, uint32_t msr, uint64_t now_ns,
                                        uint64_t *val)
{
	uint32_t v;
	enum cvm_apic_status st;

	*val = 0;
	if (!cvm_lapic_x2apic(a) || msr < CVM_MSR_X2APIC_FIRST || msr > CVM_MSR_X2APIC_LAST)
		return CVM_APIC_GP;
	if (msr == CVM_MSR_X2APIC_FIRST + CVM_APIC_ICR_LO / 16) {
		*val = ((uint64_t)a->icr_hi << 32) | a->icr_lo;
		return CVM_APIC_OK;
	}
	st = reg_read(a, (msr - CVM_MSR_X2APIC_FIRST) * 16, now_ns, &v, true);
	*val = v;
	return st;
}

enum cvm_apic_status cvm_lapic_msr_write(struct cvm_lapic *a, struct cvm_counters *c, uint32_t msr,
                                         uint64_t val, uint64_t now_ns, struct cvm_lapic_fx *fx)
{
	fx->flags = 0;
	if (!cvm_lapic_x2apic(a) || msr < CVM_MSR_X2APIC_FIRST || msr > CVM_MSR_X2APIC_LAST)
		return CVM_APIC_GP;
	if (msr == CVM_MSR_X2APIC_FIRST + CVM_APIC_ICR_LO / 16) {
		if ((uint32_t)val & ICR_X2_RESERVED)
			return CVM_APIC_GP;
		a->icr_lo = (uint32_t)val;
		a->icr_hi = (uint32_t)(val >> 32);
		send_icr(a, c, fx);
		return CVM_APIC_OK;
	}
	if (val >> 32)
		return CVM_APIC_GP;
	return reg_write(a, c, (msr - CVM_MSR_X2APIC_FIRST) * 16, (uint32_t)val, now_ns, true, fx);
}

enum cvm_apic_status cvm_lapic_set_base(struct cvm_lapic *a, uint64_t val, bool host,
                                        struct cvm_lapic_fx *fx)
{
	uint64_t reserved = 0x2ffu | ~((UINT64_C(1) << a->phys_bits) - 1);
	enum cvm_apic_mode old = cvm_lapic_mode(a), new;

	fx->flags = 0;
	if (!a->x2apic_ok)
		reserved |= CVM_APIC_BASE_EXTD;
	new = (enum cvm_apic_mode)((val >> 10) & 3u);
	if ((val & reserved) || new == CVM_APIC_MODE_INVALID)
		return CVM_APIC_GP;
	if (!host && ((old == CVM_APIC_MODE_X2APIC && new == CVM_APIC_MODE_XAPIC) ||
	              (old == CVM_APIC_MODE_DISABLED && new == CVM_APIC_MODE_X2APIC)))
		return CVM_APIC_GP;

	if (cvm_lapic_mmio_base(a) != (val & ~UINT64_C(0xfff)))
		fx->flags |= CVM_FX_BASE;
	a->apic_base = val;
	if (old == new)
		return CVM_APIC_OK;
	fx->flags |= CVM_FX_ROUTE | CVM_FX_TIMER;
	if (new == CVM_APIC_MODE_DISABLED || old == CVM_APIC_MODE_DISABLED) {
		/* Disabling loses all state; re-enabling starts from power-up values. */
		a->xapic_id = (uint8_t)a->x2apic_id;
		reset_registers(a);
	} else if (new == CVM_APIC_MODE_X2APIC) {
		a->ldr = x2apic_ldr(a->x2apic_id); /* the ID now reads as the x2APIC ID */
	} else {
		/* x2APIC -> xAPIC, host-initiated only (state restore). */
		a->xapic_id = (uint8_t)a->x2apic_id;
		a->ldr = 0;
	}
	return CVM_APIC_OK;
}
