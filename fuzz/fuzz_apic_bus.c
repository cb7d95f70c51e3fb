/*
 * Fuzz target: IPIs across 2-16 vCPUs (core/apic_bus.h). ICR writes through
 * each sender's register interface (MMIO in xAPIC mode, the ICR MSR in x2APIC
 * mode) and raw messages (I/O APIC / MSI form) are resolved by the bus and by
 * a brute-force reference that reads every local APIC's registers directly;
 * the two must agree, lowest priority included. Register writes, mode
 * changes, INIT resets and lifecycle steps change the routing identities in
 * between, the harness following the backend protocol of docs/core.md.
 */
#include <errno.h>
#include <string.h>

#include "core/apic_bus.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"

#define MAXV 16u

struct bus_world {
	unsigned int n;
	struct cvm_apic_bus bus;
	struct cvm_lapic apic[MAXV];
	struct cvm_lc lc[MAXV];
	struct cvm_counters c[MAXV];
};

/* About 27 KiB: static, and set up afresh for every input. */
static struct bus_world world;

static bool enabled(const struct cvm_lapic *a)
{
	return cvm_lapic_mode(a) == CVM_APIC_MODE_XAPIC || cvm_lapic_x2apic(a);
}

/* Does destination `d` (already reduced to 8 bits for the 8-bit form) name APIC `a`? */
static bool ref_dest_match(const struct cvm_lapic *a, uint32_t d, bool logical)
{
	if (cvm_lapic_x2apic(a)) {
		/* Only IDs the bus's table holds are routable (cvm_apic_bus_update's -ERANGE). */
		if (a->x2apic_id >= CVM_APIC_MAX_X2ID)
			return false;
		if (!logical)
			return a->x2apic_id == d;
		return (a->ldr >> 16) == (d >> 16) && (a->ldr & d & 0xffffu);
	}
	if (d > 0xffu)
		return false; /* xAPIC targets only understand 8-bit destinations */
	if (!logical)
		return a->xapic_id == d;
	uint32_t ldr = a->ldr >> 24;
	if ((a->dfr >> 28) == 0xfu)
		return ldr & d; /* flat model */
	return (ldr >> 4) == (d >> 4) && (ldr & d & 0xfu);
}

/* The SDM's rules as docs/core.md states them, over the APICs themselves. */
static unsigned int ref_resolve(const struct bus_world *w, const struct cvm_apic_msg *m,
                                cvm_apic_set t)
{
	bool x2 = m->flags & CVM_MSG_X2APIC;
	bool bcast = x2 ? m->dest == CVM_APIC_BCAST_X2APIC : (m->dest & 0xffu) == 0xffu;
	uint32_t d = x2 ? m->dest : m->dest & 0xffu;
	unsigned int n = 0, v, best = 256, ties = 0, pick;

	cvm_bitmap_zero(t, CVM_APIC_MAX_VCPUS);
	if (m->mode == CVM_DM_RESERVED3)
		return 0;
	for (v = 0; v < w->n; v++) {
		const struct cvm_lapic *a = &w->apic[v];
		bool hit;
		if (!enabled(a))
			continue;
		if (m->mode == CVM_DM_INIT && !(m->flags & CVM_MSG_ASSERT))
			hit = true;
		else if (m->shorthand == CVM_SH_SELF)
			hit = v == m->src;
		else if (m->shorthand == CVM_SH_ALL)
			hit = true;
		else if (m->shorthand == CVM_SH_ALL_BUT_SELF)
			hit = v != m->src;
		else
			hit = bcast || ref_dest_match(a, d, m->flags & CVM_MSG_LOGICAL);
		if (hit) {
			cvm_bit_set(t, v);
			n++;
		}
	}
	if (m->mode != CVM_DM_LOWEST || n < 2)
		return n;
	/* Lowest priority: the lowest APR; ties by vector hashing, in vCPU order. */
	cvm_bitmap_for_each(v, t, w->n)
	{
		unsigned int p = cvm_lapic_apr(&w->apic[v]);
		ties = p < best ? 1 : ties + (p == best);
		best = p < best ? p : best;
	}
	pick = m->vector % ties;
	cvm_bitmap_for_each(v, t, w->n)
	{
		if (cvm_lapic_apr(&w->apic[v]) == best && pick-- == 0)
			break;
	}
	cvm_bitmap_zero(t, CVM_APIC_MAX_VCPUS);
	cvm_bit_set(t, v);
	return 1;
}

static uint8_t prio(void *ctx, unsigned int v)
{
	const struct bus_world *w = ctx;

	FZ_CHECK(v < w->n, "priority asked for vCPU %u of %u", v, w->n);
	return cvm_lapic_apr(&w->apic[v]);
}

static void publish(struct bus_world *w, unsigned int v)
{
	int rc = cvm_apic_bus_update(&w->bus, v, &w->apic[v]);

	FZ_CHECK(rc == 0 || (rc == -ERANGE && w->apic[v].x2apic_id >= CVM_APIC_MAX_X2ID),
	         "bus update of vCPU %u: %d", v, rc);
}

/* Acceptance at one target, with the disposition the rules give. */
static void accept(struct bus_world *w, unsigned int t, const struct cvm_apic_msg *m)
{
	struct cvm_lapic *a = &w->apic[t];
	struct cvm_lc pre = w->lc[t];
	enum cvm_disp d = cvm_apic_accept(a, &w->lc[t], &w->c[t], m);

	switch (m->mode) {
	case CVM_DM_FIXED:
	case CVM_DM_LOWEST:
		if (!cvm_lapic_sw_enabled(a) || m->vector < 16)
			FZ_CHECK(d == CVM_DISP_DISCARDED, "vector %#x accepted by vCPU %u",
			         m->vector, t);
		else
			FZ_CHECK((d == CVM_DISP_ACCEPTED || d == CVM_DISP_MERGED) &&
			                 ((a->irr[m->vector / 64] >> (m->vector % 64)) & 1),
			         "vector %#x not in vCPU %u's IRR (disp %d)", m->vector, t, d);
		FZ_CHECK(!memcmp(&pre, &w->lc[t], sizeof(pre)),
		         "an interrupt changed the lifecycle");
		break;
	case CVM_DM_EXTINT:
		FZ_CHECK(d == CVM_DISP_EXTINT, "ExtINT disposition %d", d);
		break;
	default:
		break;
	}
}

/* On a mismatch: every vCPU's routing registers next to the bus's copy. */
static void dump(const struct bus_world *w)
{
	for (unsigned int v = 0; v < w->n; v++) {
		const struct cvm_lapic *a = &w->apic[v];
		const struct cvm_apic_bus_ent *e = &w->bus.ent[v];
		fprintf(stderr,
		        "vcpu %u: mode %u xid %#x x2id %#x ldr %#x dfr %#x svr %#x | bus: mode %u "
		        "xid %#x x2id %#x ldr %#x flat %u\n",
		        v, cvm_lapic_mode(a), a->xapic_id, a->x2apic_id, a->ldr, a->dfr, a->svr,
		        e->mode, e->xid, e->x2id, e->ldr, e->flat);
	}
}

static void route(struct bus_world *w, const struct cvm_apic_msg *m)
{
	cvm_apic_set got, want;
	unsigned int n, nref, t;

	n = cvm_apic_resolve(&w->bus, m, prio, w, got);
	nref = ref_resolve(w, m, want);
	if (n != nref || memcmp(got, want, sizeof(got)))
		dump(w);
	FZ_CHECK(n == cvm_bitmap_weight(got, CVM_APIC_MAX_VCPUS), "resolve says %u targets", n);
	FZ_CHECK(n == nref && !memcmp(got, want, sizeof(got)),
	         "message dest %#x mode %u vector %#x shorthand %u flags %#x src %u: bus "
	         "targets %#llx, reference %#llx",
	         m->dest, m->mode, m->vector, m->shorthand, m->flags, m->src,
	         (unsigned long long)got[0], (unsigned long long)want[0]);
	cvm_bitmap_for_each(t, got, w->n) accept(w, t, m);
}

/* A destination operand (see fuzz_ops.h), for vCPU-relative choices in form x2 or 8-bit. */
static uint32_t dest_operand(const struct bus_world *w, struct fz *f, bool x2)
{
	uint8_t kind = fz_u8(f) % 4;
	uint32_t raw = fz_u32(f);
	const struct cvm_lapic *a = &w->apic[(raw & 0xffu) % w->n];

	switch (kind) {
	case 0:
		return cvm_lapic_x2apic(a) ? a->x2apic_id : a->xapic_id;
	case 1:
		return x2 ? raw : raw & 0xffu;
	case 2:
		return x2 ? CVM_APIC_BCAST_X2APIC : CVM_APIC_BCAST_XAPIC;
	default:
		if (cvm_lapic_x2apic(a))
			return a->ldr | ((raw >> 8) & 0xffffu);
		return (a->ldr >> 24) | ((raw >> 8) & 0xffu);
	}
}

/* Low ICR word from the "modebits" operand. */
static uint32_t icr_low(uint8_t vector, uint8_t bits)
{
	return vector | (uint32_t)(bits & 7u) << 8 | (uint32_t)((bits >> 3) & 1u) << 11 |
	       (uint32_t)((bits >> 5) & 1u) << 14 | (uint32_t)((bits >> 4) & 1u) << 15 |
	       (uint32_t)(bits >> 6) << 18;
}

static void send_icr(struct bus_world *w, struct fz *f)
{
	unsigned int s = fz_u8(f) % w->n;
	struct cvm_lapic *a = &w->apic[s];
	uint8_t vector = fz_u8(f), bits = fz_u8(f);
	bool x2 = cvm_lapic_x2apic(a);
	uint32_t lo = icr_low(vector, bits), dest = dest_operand(w, f, x2);
	struct cvm_lapic_fx fx;
	enum cvm_apic_status st;

	if (x2) {
		st = cvm_lapic_msr_write(a, &w->c[s], CVM_MSR_X2APIC_FIRST + CVM_APIC_ICR_LO / 16,
		                         (uint64_t)dest << 32 | lo, 0, &fx);
	} else {
		cvm_lapic_mmio_write(a, &w->c[s], CVM_APIC_ICR_HI, dest << 24, 0, &fx);
		st = cvm_lapic_mmio_write(a, &w->c[s], CVM_APIC_ICR_LO, lo, 0, &fx);
	}
	if (!(fx.flags & CVM_FX_IPI)) {
		FZ_CHECK(st != CVM_APIC_OK || (bits & 7u) == CVM_DM_RESERVED3 ||
		                 (bits & 7u) == CVM_DM_EXTINT || vector < 16,
		         "ICR %#x from vCPU %u sent nothing", lo, s);
		return;
	}
	FZ_CHECK(fx.ipi.src == s && fx.ipi.vector == vector && fx.ipi.mode == (bits & 7u) &&
	                 fx.ipi.shorthand == bits >> 6 && fx.ipi.dest == (x2 ? dest : dest & 0xffu),
	         "ICR %#x dest %#x from vCPU %u decoded as dest %#x mode %u", lo, dest, s,
	         fx.ipi.dest, fx.ipi.mode);
	route(w, &fx.ipi);
}

static void send_msg(struct bus_world *w, struct fz *f)
{
	uint8_t src = fz_u8(f), vector = fz_u8(f), bits = fz_u8(f);
	bool x2 = fz_u8(f) & 1;
	struct cvm_apic_msg m = {
	        .dest = dest_operand(w, f, x2),
	        .src = src >= 0x80 ? CVM_APIC_SRC_NONE : (uint16_t)(src % (w->n + 2)),
	        .vector = vector,
	        .mode = bits & 7u,
	        .shorthand = bits >> 6,
	        .flags = (uint8_t)(((bits & 0x08u) ? CVM_MSG_LOGICAL : 0) |
	                           ((bits & 0x10u) ? CVM_MSG_LEVEL : 0) |
	                           ((bits & 0x20u) ? CVM_MSG_ASSERT : 0) |
	                           (x2 ? CVM_MSG_X2APIC : 0)),
	};
	route(w, &m);
}

/* A register write through vCPU v's own interface; routing changes are published. */
static void write_reg(struct bus_world *w, unsigned int v, uint32_t off, uint32_t val)
{
	struct cvm_lapic *a = &w->apic[v];
	struct cvm_lapic_fx fx = {0};

	if (cvm_lapic_x2apic(a))
		cvm_lapic_msr_write(a, &w->c[v], CVM_MSR_X2APIC_FIRST + off / 16, val, 0, &fx);
	else
		cvm_lapic_mmio_write(a, &w->c[v], off, val, 0, &fx);
	if (fx.flags & CVM_FX_ROUTE)
		publish(w, v);
}

static void set_mode(struct bus_world *w, unsigned int v, unsigned int mode, bool host)
{
	struct cvm_lapic *a = &w->apic[v];
	struct cvm_lapic_fx fx = {0};
	uint64_t val = (a->apic_base & ~(CVM_APIC_BASE_EN | CVM_APIC_BASE_EXTD)) |
	               (uint64_t)(mode & 3u) << 10;

	cvm_lapic_set_base(a, val, host, &fx);
	if (fx.flags & CVM_FX_ROUTE)
		publish(w, v);
}

/* cvm_lc_next() for vCPU v and its action, carried out as docs/core.md's table says. */
static void lc_step(struct bus_world *w, unsigned int v, uint8_t bits)
{
	struct cvm_lapic *a = &w->apic[v];
	struct cvm_lc_inputs in = {
	        .exception_pending = bits & 2,
	        .intr_pending = cvm_lapic_pending(a) >= 0,
	        .intr_window = bits & 1,
	};
	struct cvm_lc_action act = cvm_lc_next(&w->lc[v], &w->c[v], &in);
	struct cvm_lapic_fx fx;

	switch (act.kind) {
	case CVM_ACT_INIT_RESET:
		cvm_lapic_init_reset(a, &fx);
		if (fx.flags & CVM_FX_ROUTE)
			publish(w, v);
		break;
	case CVM_ACT_INJECT_INTR:
		FZ_CHECK(cvm_lapic_ack(a, &w->c[v]) >= 16, "INJECT_INTR with nothing to ack");
		break;
	default:
		break;
	}
}

static void step(void *ctx, struct fz *f)
{
	struct bus_world *w = ctx;
	static const uint32_t regs[] = {CVM_APIC_ID,  CVM_APIC_LDR, CVM_APIC_DFR,
	                                CVM_APIC_SVR, CVM_APIC_TPR, CVM_APIC_ESR};
	struct cvm_lapic_fx fx = {0};
	unsigned int v;
	uint8_t b;

	switch (fz_u8(f) % FZ_BUS_NR_OPS) {
	case FZ_BUS_ICR:
		send_icr(w, f);
		break;
	case FZ_BUS_MSG:
		send_msg(w, f);
		break;
	case FZ_BUS_REG:
		v = fz_u8(f) % w->n;
		b = fz_u8(f) % 6;
		write_reg(w, v, regs[b], b == FZ_REG_ESR ? 0 : fz_u32(f));
		break;
	case FZ_BUS_MODE:
		v = fz_u8(f) % w->n;
		b = fz_u8(f);
		set_mode(w, v, b, fz_u8(f) & 1);
		break;
	case FZ_BUS_ACK:
		cvm_lapic_ack(&w->apic[fz_u8(f) % w->n], NULL);
		break;
	case FZ_BUS_EOI:
		cvm_lapic_eoi(&w->apic[fz_u8(f) % w->n], NULL, &fx);
		break;
	case FZ_BUS_STEP:
		v = fz_u8(f) % w->n;
		lc_step(w, v, fz_u8(f));
		break;
	case FZ_BUS_GUEST:
		v = fz_u8(f) % w->n;
		b = fz_u8(f) % 3;
		if (b == 0)
			cvm_lc_hlt(&w->lc[v], &w->c[v]);
		else if (b == 1)
			cvm_lc_rsm(&w->lc[v], &w->c[v]);
		else
			cvm_lc_iret(&w->lc[v]);
		break;
	}
}

static void setup(void *ctx, struct fz *f)
{
	struct bus_world *w = ctx;
	uint16_t x2mask, base;
	uint8_t scheme, stride;

	memset(w, 0, sizeof(*w));
	w->n = 2 + fz_u8(f) % (MAXV - 1);
	x2mask = fz_u16(f);
	scheme = fz_u8(f) % 3;
	base = fz_u16(f);
	stride = fz_u8(f);
	FZ_CHECK(cvm_apic_bus_init(&w->bus, w->n) == 0, "bus init for %u vCPUs", w->n);
	for (unsigned int v = 0; v < w->n; v++) {
		struct cvm_lapic_config cfg = {
		        .apic_id = scheme == 0   ? v
		                   : scheme == 1 ? base + v * stride
		                                 : fz_u16(f),
		        .vcpu = (uint16_t)v,
		        .bsp = v == 0,
		        .x2apic = true,
		};
		cvm_lapic_power_on(&w->apic[v], &cfg);
		cvm_lc_power_on(&w->lc[v], v == 0 ? CVM_LC_OPT_BSP : 0);
		if ((x2mask >> v) & 1)
			set_mode(w, v, CVM_APIC_MODE_X2APIC, false);
		write_reg(w, v, CVM_APIC_SVR, 0x1ff);
		publish(w, v);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run_ops(data, size, setup, step, &world);
}
