/*
 * Fuzz target: one local APIC (core/lapic.h) driven by xAPIC MMIO and x2APIC
 * MSR access sequences, IA32_APIC_BASE transitions, interrupts, EOIs, LINT
 * and LVT signals, and timer calls with a clock that only moves forward. The
 * harness acts as a correct backend: it expires the timer as soon as time
 * reaches the deadline. After every step the register-file rules of
 * docs/core.md and the side-effect contract (struct cvm_lapic_fx) are checked.
 */
#include <string.h>

#include "core/lapic.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"

/* The clock never goes past this (far from any saturation in the timer arithmetic). */
#define MAX_NOW (UINT64_C(1) << 60)

#define ESR_ILLEGAL_REG 0x80u

struct la_world {
	struct cvm_lapic a;
	struct cvm_counters c;
	struct cvm_lapic_config cfg;
	uint64_t now;
};

/* The guest TSC the simulator's model gives at now_ns (TSC = ns * kHz / 10^6). */
static uint64_t guest_tsc(const struct la_world *w)
{
	__extension__ unsigned __int128 t = (unsigned __int128)w->now * w->a.tsc_khz;
	return (uint64_t)(t / 1000000u);
}

static bool vec_low_clear(const uint64_t v[4])
{
	return (v[0] & 0xffffu) == 0;
}

static uint32_t x2_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 15u));
}

static bool counting(const struct cvm_lapic *a)
{
	enum cvm_timer_mode m = cvm_lapic_timer_mode(a);
	return m == CVM_TIMER_ONESHOT || m == CVM_TIMER_PERIODIC;
}

static void check_lapic(const struct la_world *w)
{
	const struct cvm_lapic *a = &w->a;
	uint64_t reserved = 0x2ffu | ~((UINT64_C(1) << a->phys_bits) - 1);
	uint64_t deadline = cvm_lapic_next_deadline(a);
	int pending = cvm_lapic_pending(a);

	if (!w->cfg.x2apic)
		reserved |= CVM_APIC_BASE_EXTD;
	FZ_CHECK(cvm_lapic_mode(a) != CVM_APIC_MODE_INVALID, "mode EN=0 EXTD=1");
	FZ_CHECK(!(a->apic_base & reserved), "IA32_APIC_BASE %#llx has reserved bits",
	         (unsigned long long)a->apic_base);
	FZ_CHECK(vec_low_clear(a->irr) && vec_low_clear(a->isr) && vec_low_clear(a->tmr),
	         "vector 0-15 in IRR/ISR/TMR (%#llx %#llx %#llx)", (unsigned long long)a->irr[0],
	         (unsigned long long)a->isr[0], (unsigned long long)a->tmr[0]);
	if (!(a->svr & CVM_SVR_ENABLE))
		for (unsigned int i = 0; i < CVM_NR_LVT; i++)
			FZ_CHECK(a->lvt[i] & CVM_LVT_MASKED,
			         "software-disabled APIC with LVT %u unmasked (%#x)", i, a->lvt[i]);
	if (cvm_lapic_x2apic(a))
		FZ_CHECK(a->ldr == x2_ldr(a->x2apic_id), "x2APIC LDR %#x for ID %#x", a->ldr,
		         a->x2apic_id);
	FZ_CHECK(pending < 0 || ((a->irr[pending / 64] >> (pending % 64)) & 1),
	         "pending vector %d not in the IRR", pending);
	FZ_CHECK(pending < 0 || (pending & 0xf0) > (cvm_lapic_ppr(a) & 0xf0),
	         "pending vector %#x not above the PPR %#x", pending, cvm_lapic_ppr(a));

	/* Timer: armed only when it can fire, and the two views of the count agree. */
	FZ_CHECK(cvm_lapic_hw_enabled(a) || deadline == CVM_NO_DEADLINE,
	         "disabled APIC with a timer deadline");
	switch (cvm_lapic_timer_mode(a)) {
	case CVM_TIMER_TSCDL:
		FZ_CHECK(a->tmict == 0 && cvm_lapic_current_count(a, w->now) == 0,
		         "TSC-deadline mode with a count");
		break;
	case CVM_TIMER_RESERVED:
		FZ_CHECK(deadline == CVM_NO_DEADLINE, "reserved timer mode armed");
		break;
	default:
		FZ_CHECK(cvm_lapic_get_tsc_deadline(a) == 0 && a->tsc_deadline == 0,
		         "counting mode with a TSC deadline");
		break;
	}
	if (counting(a)) {
		uint32_t cc = cvm_lapic_current_count(a, w->now);
		FZ_CHECK(cc <= a->tmict, "current count %#x above the initial count %#x", cc,
		         a->tmict);
		if (deadline == CVM_NO_DEADLINE)
			FZ_CHECK(cc == 0, "idle timer counts %#x", cc);
		else
			FZ_CHECK(deadline > w->now && cc > 0,
			         "armed timer: deadline %llu, now %llu, count %#x",
			         (unsigned long long)deadline, (unsigned long long)w->now, cc);
	}
}

/* What the bus and the backend see of an APIC: its routing identity and MMIO page. */
struct la_view {
	uint8_t xid, mode, flat;
	uint32_t ldr;
	uint64_t base, deadline;
};

static struct la_view view(const struct cvm_lapic *a)
{
	return (struct la_view){
	        .xid = a->xapic_id,
	        .mode = (uint8_t)cvm_lapic_mode(a),
	        .flat = (a->dfr >> 28) == 0xfu,
	        .ldr = a->ldr,
	        .base = cvm_lapic_mmio_base(a),
	        .deadline = cvm_lapic_next_deadline(a),
	};
}

/* Whatever changed that the caller must act on is reported in fx. */
static void check_fx(const struct la_view *pre, const struct cvm_lapic *a,
                     const struct cvm_lapic_fx *fx)
{
	struct la_view post = view(a);

	if (pre->xid != post.xid || pre->mode != post.mode || pre->flat != post.flat ||
	    pre->ldr != post.ldr)
		FZ_CHECK(fx->flags & CVM_FX_ROUTE, "routing identity changed without CVM_FX_ROUTE");
	if (pre->base != post.base)
		FZ_CHECK(fx->flags & CVM_FX_BASE, "MMIO base moved without CVM_FX_BASE");
	if (pre->deadline != post.deadline && post.deadline != CVM_NO_DEADLINE)
		FZ_CHECK(fx->flags & CVM_FX_TIMER,
		         "timer deadline %llu -> %llu without CVM_FX_TIMER",
		         (unsigned long long)pre->deadline, (unsigned long long)post.deadline);
	if (fx->flags & CVM_FX_IPI) {
		const struct cvm_apic_msg *m = &fx->ipi;
		FZ_CHECK(m->mode != CVM_DM_RESERVED3 && m->mode != CVM_DM_EXTINT,
		         "IPI with delivery mode %u", m->mode);
		FZ_CHECK(m->vector >= 16 || (m->mode != CVM_DM_FIXED && m->mode != CVM_DM_LOWEST),
		         "fixed IPI with illegal vector %u", m->vector);
		FZ_CHECK(m->src == a->vcpu, "IPI source %u", m->src);
	}
	if (fx->flags & CVM_FX_LOCAL)
		FZ_CHECK(fx->local.mode == CVM_DM_SMI || fx->local.mode == CVM_DM_NMI ||
		                 fx->local.mode == CVM_DM_INIT || fx->local.mode == CVM_DM_EXTINT,
		         "local message with delivery mode %u", fx->local.mode);
}

/* A #GP'd or ignored access changes nothing (an ignored xAPIC one may log an ESR bit). */
static void check_unchanged(const struct cvm_lapic *pre, const struct cvm_lapic *a,
                            enum cvm_apic_status st, const char *what)
{
	struct cvm_lapic p = *pre;

	p.esr_pending = a->esr_pending;
	if (st == CVM_APIC_IGNORED)
		FZ_CHECK(!((a->esr_pending ^ pre->esr_pending) & ~ESR_ILLEGAL_REG),
		         "%s: ignored access set ESR bits %#x", what, a->esr_pending);
	else
		FZ_CHECK(a->esr_pending == pre->esr_pending, "%s: #GP access set ESR bits", what);
	FZ_CHECK(!memcmp(&p, a, sizeof(p)), "%s: status %d but the APIC changed", what, st);
}

static uint32_t mmio_offset(struct fz *f)
{
	uint16_t o = fz_u16(f);
	return (o & 0x8000u) ? o & 0xfffu : (uint32_t)(o & 0x3fu) * 16;
}

static uint32_t msr_number(struct fz *f)
{
	uint16_t m = fz_u16(f);
	return (m & 0x8000u) ? m & 0x7fffu : CVM_MSR_X2APIC_FIRST + (m & 0xffu);
}

static void reg_ops(struct la_world *w, unsigned int op, struct fz *f)
{
	struct cvm_lapic *a = &w->a, pre = *a;
	struct la_view pv = view(a);
	struct cvm_lapic_fx fx;
	enum cvm_apic_status st;
	uint32_t off, v32;
	uint64_t v64;

	memset(&fx, 0xa5, sizeof(fx)); /* every access must clear it */
	switch (op) {
	case FZ_LA_MMIO_READ:
		off = mmio_offset(f);
		st = cvm_lapic_mmio_read(a, off, w->now, &v32);
		if (cvm_lapic_mode(&pre) != CVM_APIC_MODE_XAPIC)
			FZ_CHECK(st == CVM_APIC_IGNORED && v32 == 0,
			         "MMIO read outside xAPIC mode");
		if (st == CVM_APIC_OK && off == CVM_APIC_ID)
			FZ_CHECK(v32 == (uint32_t)a->xapic_id << 24, "xAPIC ID reads %#x", v32);
		check_unchanged(&pre, a, CVM_APIC_IGNORED, "MMIO read");
		return;
	case FZ_LA_MSR_READ:
		off = msr_number(f);
		st = cvm_lapic_msr_read(a, off, w->now, &v64);
		if (!cvm_lapic_x2apic(&pre))
			FZ_CHECK(st == CVM_APIC_GP, "MSR %#x read outside x2APIC mode", off);
		FZ_CHECK(st != CVM_APIC_GP || v64 == 0, "#GP read of MSR %#x gives %#llx", off,
		         (unsigned long long)v64);
		FZ_CHECK(st != CVM_APIC_IGNORED, "MSR read status IGNORED");
		if (st == CVM_APIC_OK && off != CVM_MSR_X2APIC_FIRST + CVM_APIC_ICR_LO / 16)
			FZ_CHECK(!(v64 >> 32), "MSR %#x reads %#llx", off, (unsigned long long)v64);
		if (st == CVM_APIC_OK && off == CVM_MSR_X2APIC_FIRST + CVM_APIC_ID / 16)
			FZ_CHECK(v64 == a->x2apic_id, "x2APIC ID reads %#llx",
			         (unsigned long long)v64);
		check_unchanged(&pre, a, CVM_APIC_GP, "MSR read");
		return;
	case FZ_LA_MMIO_WRITE:
		off = mmio_offset(f);
		v32 = fz_u32(f);
		st = cvm_lapic_mmio_write(a, &w->c, off, v32, w->now, &fx);
		if (cvm_lapic_mode(&pre) != CVM_APIC_MODE_XAPIC)
			FZ_CHECK(st == CVM_APIC_IGNORED, "MMIO write outside xAPIC mode");
		FZ_CHECK(st != CVM_APIC_GP, "MMIO write status #GP");
		if (st == CVM_APIC_IGNORED)
			check_unchanged(&pre, a, st, "MMIO write");
		if (fx.flags & CVM_FX_IPI)
			FZ_CHECK(off == CVM_APIC_ICR_LO, "IPI from a write at %#x", off);
		if (fx.flags & CVM_FX_EOI)
			FZ_CHECK(off == CVM_APIC_EOI, "EOI broadcast from a write at %#x", off);
		break;
	case FZ_LA_MSR_WRITE:
		off = msr_number(f);
		v64 = fz_u64(f);
		st = cvm_lapic_msr_write(a, &w->c, off, v64, w->now, &fx);
		if (!cvm_lapic_x2apic(&pre))
			FZ_CHECK(st == CVM_APIC_GP, "MSR %#x write outside x2APIC mode", off);
		FZ_CHECK(st != CVM_APIC_IGNORED, "MSR write status IGNORED");
		if (st == CVM_APIC_GP)
			check_unchanged(&pre, a, st, "MSR write");
		if (fx.flags & CVM_FX_IPI)
			FZ_CHECK(off == CVM_MSR_X2APIC_FIRST + CVM_APIC_ICR_LO / 16 ||
			                 off == CVM_MSR_X2APIC_FIRST + CVM_APIC_SELF_IPI / 16,
			         "IPI from a write of MSR %#x", off);
		break;
	case FZ_LA_SET_BASE:
	case FZ_LA_BASE_MODE:
		if (op == FZ_LA_SET_BASE) {
			v64 = fz_u64(f);
		} else {
			v64 = a->apic_base & ~(CVM_APIC_BASE_EN | CVM_APIC_BASE_EXTD);
			v64 |= (uint64_t)(fz_u8(f) & 3u) << 10;
		}
		st = cvm_lapic_set_base(a, v64, fz_u8(f) & 1, &fx);
		if (st == CVM_APIC_GP)
			check_unchanged(&pre, a, st, "IA32_APIC_BASE write");
		else
			FZ_CHECK(st == CVM_APIC_OK && a->apic_base == v64,
			         "IA32_APIC_BASE %#llx written, reads %#llx",
			         (unsigned long long)v64, (unsigned long long)a->apic_base);
		if (st == CVM_APIC_OK && cvm_lapic_mode(&pre) != cvm_lapic_mode(a) &&
		    cvm_lapic_x2apic(a))
			FZ_CHECK(a->ldr == x2_ldr(a->x2apic_id), "x2APIC entered with LDR %#x",
			         a->ldr);
		break;
	case FZ_LA_TSC_DEADLINE:
		switch (fz_u8(f) % 4) {
		case 0:
			v64 = 0;
			break;
		case 1:
			v64 = guest_tsc(w) + fz_u32(f);
			break;
		case 2:
			v64 = guest_tsc(w) - fz_u32(f);
			break;
		default:
			v64 = fz_u64(f);
			break;
		}
		cvm_lapic_set_tsc_deadline(a, v64, w->now, guest_tsc(w), &fx);
		if (cvm_lapic_timer_mode(a) != CVM_TIMER_TSCDL || !cvm_lapic_hw_enabled(a))
			FZ_CHECK(fx.flags == 0 && !memcmp(&pre, a, sizeof(pre)),
			         "IA32_TSC_DEADLINE write outside TSC-deadline mode took effect");
		else
			FZ_CHECK(cvm_lapic_get_tsc_deadline(a) == v64,
			         "IA32_TSC_DEADLINE reads back");
		/* A deadline already passed fires now: the harness expires it like a backend. */
		if (cvm_lapic_next_deadline(a) <= w->now)
			cvm_lapic_timer_expire(a, &w->c, w->now);
		break;
	}
	check_fx(&pv, a, &fx);
}

/* Time moves on by dt; a due timer expires at once (a perfect host timer). */
static void advance(struct la_world *w, uint64_t dt)
{
	uint64_t next, deadline;

	w->now = dt > MAX_NOW - w->now ? MAX_NOW : w->now + dt;
	deadline = cvm_lapic_next_deadline(&w->a);
	if (deadline > w->now)
		return;
	next = cvm_lapic_timer_expire(&w->a, &w->c, w->now);
	FZ_CHECK(next == cvm_lapic_next_deadline(&w->a), "expire returned %llu, deadline %llu",
	         (unsigned long long)next, (unsigned long long)cvm_lapic_next_deadline(&w->a));
	FZ_CHECK(next == CVM_NO_DEADLINE || next > w->now,
	         "timer re-armed at %llu, not after now %llu", (unsigned long long)next,
	         (unsigned long long)w->now);
	FZ_CHECK(cvm_lapic_timer_mode(&w->a) != CVM_TIMER_TSCDL || next == CVM_NO_DEADLINE,
	         "TSC deadline re-armed after firing");
	FZ_CHECK(next == CVM_NO_DEADLINE || next - w->now >= w->cfg.min_period_ns ||
	                 next == CVM_NO_DEADLINE - 1,
	         "periodic expiry %llu ns after the last, minimum %u",
	         (unsigned long long)(next - w->now), w->cfg.min_period_ns);
}

static void step(void *ctx, struct fz *f)
{
	struct la_world *w = ctx;
	struct cvm_lapic *a = &w->a;
	struct cvm_lapic_fx fx = {0};
	unsigned int op = fz_u8(f) % FZ_LA_NR_OPS;
	uint64_t dt;
	int v;

	switch (op) {
	case FZ_LA_ADVANCE:
		dt = fz_u32(f);
		advance(w, dt << (fz_u8(f) % 24));
		break;
	case FZ_LA_EXPIRE:
		dt = cvm_lapic_next_deadline(a);
		FZ_CHECK(cvm_lapic_timer_expire(a, &w->c, w->now) == dt,
		         "an early expire changed the deadline");
		break;
	case FZ_LA_ACCEPT: {
		uint8_t vec = fz_u8(f);
		enum cvm_disp d = cvm_lapic_accept_irq(a, &w->c, vec, fz_u8(f) & 1);
		bool in_irr = (a->irr[vec / 64] >> (vec % 64)) & 1;
		FZ_CHECK(d == CVM_DISP_DISCARDED ? vec < 16 || !cvm_lapic_sw_enabled(a) : in_irr,
		         "accept of vector %#x: disp %d", vec, d);
		break;
	}
	case FZ_LA_ACK:
		v = cvm_lapic_pending(a);
		FZ_CHECK(cvm_lapic_ack(a, &w->c) == v, "ack differs from the pending vector %d", v);
		if (v >= 0)
			FZ_CHECK((a->isr[v / 64] >> (v % 64)) & 1,
			         "acked vector %#x not in service", v);
		break;
	case FZ_LA_EOI:
		v = cvm_lapic_eoi(a, &w->c, &fx);
		if (fx.flags & CVM_FX_EOI)
			FZ_CHECK(v >= 16 && fx.eoi_vector == v &&
			                 ((a->tmr[v / 64] >> (v % 64)) & 1),
			         "EOI broadcast of %#x for vector %d", fx.eoi_vector, v);
		break;
	case FZ_LA_LINT:
		op = fz_u8(f) % 3;
		cvm_lapic_lint(a, &w->c, op, fz_u8(f) & 1, &fx);
		if (op > 1)
			FZ_CHECK(fx.flags == 0, "LINT%u does not exist", op);
		break;
	case FZ_LA_LVT_FIRE:
		cvm_lapic_lvt_fire(a, &w->c, (enum cvm_lvt)(fz_u8(f) % 8), &fx);
		break;
	case FZ_LA_SET_TPR:
		cvm_lapic_set_tpr(a, fz_u8(f));
		break;
	case FZ_LA_INIT_RESET: {
		struct la_view pv = view(a);
		memset(&fx, 0xa5, sizeof(fx));
		cvm_lapic_init_reset(a, &fx);
		FZ_CHECK(a->irr[0] == 0 && a->isr[0] == 0 && a->tpr == 0 &&
		                 cvm_lapic_next_deadline(a) == CVM_NO_DEADLINE,
		         "INIT left state behind");
		check_fx(&pv, a, &fx);
		break;
	}
	default:
		reg_ops(w, op, f);
		break;
	}
	check_lapic(w);
}

static void setup(void *ctx, struct fz *f)
{
	struct la_world *w = ctx;
	uint8_t flags;

	*w = (struct la_world){0};
	w->cfg.apic_id = fz_u32(f);
	flags = fz_u8(f);
	w->cfg.bsp = flags & FZ_LA_CFG_BSP;
	w->cfg.x2apic = flags & FZ_LA_CFG_X2APIC;
	w->cfg.min_period_ns = flags & FZ_LA_CFG_MIN_PERIOD ? 200000u : 0;
	flags = fz_u8(f) % 18; /* MAXPHYADDR 36..52, or 0 (the default) */
	w->cfg.phys_bits = flags ? (uint8_t)(35 + flags) : 0;
	w->cfg.tsc_khz = fz_u32(f);
	w->cfg.bus_cycle_ns = fz_u8(f);
	w->now = fz_u32(f);
	cvm_lapic_power_on(&w->a, &w->cfg);
	check_lapic(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct la_world w;

	return fz_run_ops(data, size, setup, step, &w);
}
