/*
 * Fuzz target: the I/O APIC (core/ioapic.h) behind its MMIO registers, with
 * pin level changes, delivering through the routing bus to 1-4 local APICs
 * whose EOIs come back as level-triggered EOI broadcasts. Checked after every
 * step: what may be delivered was delivered exactly once per EOI, what the
 * guest may not write stays as the I/O APIC set it, reads change nothing.
 */
#include <string.h>

#include "core/apic_bus.h"
#include "core/ioapic.h"
#include "fuzz/fuzz.h"
#include "fuzz/fuzz_ops.h"

#define MAXV 4u

/* Bits of a redirection entry the guest writes; the rest but remote IRR reads 0. */
#define RTE_GUEST                                                                           \
	(CVM_RTE_VECTOR | (7ull << CVM_RTE_DM_SHIFT) | CVM_RTE_LOGICAL | CVM_RTE_POLARITY | \
	 CVM_RTE_LEVEL | CVM_RTE_MASKED | (0xffull << CVM_RTE_DEST_SHIFT))

struct io_world {
	struct cvm_ioapic io;
	unsigned int n;
	struct cvm_apic_bus bus;
	struct cvm_lapic apic[MAXV];
	struct cvm_lc lc[MAXV];
	struct cvm_counters c[MAXV];
};

static struct io_world world;

static bool pin_bit(uint32_t mask, unsigned int pin)
{
	return (mask >> pin) & 1u;
}

static void check_ioapic(const struct cvm_ioapic *io)
{
	FZ_CHECK(io->regsel <= 0xffu, "IOREGSEL %#x", io->regsel);
	FZ_CHECK(!(io->id & ~0x0f000000u), "ID register %#x", io->id);
	FZ_CHECK(!(io->level >> CVM_IOAPIC_PINS), "pin levels %#x", io->level);
	for (unsigned int p = 0; p < CVM_IOAPIC_PINS; p++) {
		uint64_t e = io->rte[p];
		FZ_CHECK(!(e & ~(RTE_GUEST | CVM_RTE_REMOTE_IRR)), "pin %u entry %#llx", p,
		         (unsigned long long)e);
		FZ_CHECK(!(e & CVM_RTE_REMOTE_IRR) || (e & CVM_RTE_LEVEL),
		         "edge pin %u with remote IRR", p);
		/* A level interrupt that can be delivered has been: none waits unseen. */
		FZ_CHECK(!((e & CVM_RTE_LEVEL) && !(e & (CVM_RTE_MASKED | CVM_RTE_REMOTE_IRR)) &&
		           pin_bit(io->level, p)),
		         "level pin %u asserted, unmasked, remote IRR clear, not delivered", p);
	}
}

static uint8_t prio(void *ctx, unsigned int v)
{
	const struct io_world *w = ctx;
	return cvm_lapic_apr(&w->apic[v]);
}

/*
 * Pins `mask` were handed out by an operation on `pre`; `eoi` is the vector of
 * the EOI that caused it, or -1. Checks each, then routes its message.
 */
static void deliver(struct io_world *w, const struct cvm_ioapic *pre, uint32_t mask, int eoi,
                    bool edge_ok)
{
	for (unsigned int p = 0; p < 32; p++) {
		if (!pin_bit(mask, p))
			continue;
		FZ_CHECK(p < CVM_IOAPIC_PINS, "pin %u delivered", p);
		uint64_t e = w->io.rte[p], was = pre->rte[p];
		struct cvm_apic_msg m;
		cvm_apic_set set;
		unsigned int t;

		FZ_CHECK(!(e & CVM_RTE_MASKED), "masked pin %u delivered", p);
		if (e & CVM_RTE_LEVEL) {
			FZ_CHECK((e & CVM_RTE_REMOTE_IRR) && pin_bit(w->io.level, p),
			         "level pin %u delivered without remote IRR or not asserted", p);
			FZ_CHECK(!(was & CVM_RTE_REMOTE_IRR) || (eoi >= 0 && (uint8_t)was == eoi),
			         "level pin %u delivered again before its EOI", p);
		} else {
			FZ_CHECK(edge_ok, "edge pin %u delivered without an edge", p);
		}
		cvm_ioapic_msg(&w->io, p, &m);
		FZ_CHECK(m.vector == (uint8_t)e && m.mode == ((e >> CVM_RTE_DM_SHIFT) & 7u) &&
		                 m.dest == (uint32_t)(e >> CVM_RTE_DEST_SHIFT) &&
		                 m.src == CVM_APIC_SRC_NONE && !(m.flags & CVM_MSG_X2APIC) &&
		                 !!(m.flags & CVM_MSG_LEVEL) == !!(e & CVM_RTE_LEVEL) &&
		                 !!(m.flags & CVM_MSG_LOGICAL) == !!(e & CVM_RTE_LOGICAL),
		         "pin %u entry %#llx gives a different message", p, (unsigned long long)e);
		cvm_apic_resolve(&w->bus, &m, prio, w, set);
		cvm_bitmap_for_each(t, set, w->n)
		        cvm_apic_accept(&w->apic[t], &w->lc[t], &w->c[t], &m);
	}
}

static uint32_t offset_operand(struct fz *f)
{
	static const uint32_t offs[] = {CVM_IOAPIC_REGSEL, CVM_IOAPIC_WIN, CVM_IOAPIC_EOIREG};
	uint8_t o = fz_u8(f) % 4;

	return o < 3 ? offs[o] : fz_u8(f);
}

/* A guest write; what it delivers is checked against the state before it. */
static void guest_write(struct io_world *w, uint32_t off, uint32_t val)
{
	struct cvm_ioapic pre = w->io;
	uint32_t mask = cvm_ioapic_write(&w->io, off, val);
	uint32_t idx = pre.regsel;

	deliver(w, &pre, mask, off == CVM_IOAPIC_EOIREG ? (int)(uint8_t)val : -1, false);
	if (off == CVM_IOAPIC_WIN && idx >= 0x10 && idx < 0x10 + 2 * CVM_IOAPIC_PINS) {
		unsigned int p = (idx - 0x10) / 2;
		uint64_t want = (idx & 1) ? (uint64_t)val << 32 : val;
		uint64_t half = (idx & 1) ? 0xffffffff00000000ull : 0xffffffffull;
		uint64_t e = w->io.rte[p];
		FZ_CHECK(!((e ^ want) & half & RTE_GUEST), "pin %u entry %#llx after writing %#x",
		         p, (unsigned long long)e, val);
		FZ_CHECK(!((e ^ pre.rte[p]) & ~half & ~CVM_RTE_REMOTE_IRR),
		         "writing half %u of pin %u changed the other half", idx & 1, p);
	}
}

static void guest_read(struct io_world *w, uint32_t off)
{
	struct cvm_ioapic pre = w->io;
	uint32_t v = cvm_ioapic_read(&w->io, off), idx = w->io.regsel;

	FZ_CHECK(!memcmp(&pre, &w->io, sizeof(pre)), "a read at %#x changed the I/O APIC", off);
	if (off != CVM_IOAPIC_WIN)
		return;
	if (idx == 0x01)
		FZ_CHECK(v == CVM_IOAPIC_VERSION, "version reads %#x", v);
	else if (idx == 0x00 || idx == 0x02)
		FZ_CHECK(v == w->io.id, "ID reads %#x", v);
	else if (idx >= 0x10 && idx < 0x10 + 2 * CVM_IOAPIC_PINS)
		FZ_CHECK(v == (uint32_t)(w->io.rte[(idx - 0x10) / 2] >> ((idx & 1) * 32)),
		         "entry half %#x reads %#x", idx, v);
}

static void lapic_eoi(struct io_world *w, unsigned int v)
{
	struct cvm_lapic_fx fx = {0};
	struct cvm_ioapic pre;
	int vec = cvm_lapic_eoi(&w->apic[v], &w->c[v], &fx);

	if (!(fx.flags & CVM_FX_EOI))
		return;
	FZ_CHECK(vec == fx.eoi_vector, "EOI of %d broadcast as %#x", vec, fx.eoi_vector);
	pre = w->io;
	deliver(w, &pre, cvm_ioapic_eoi(&w->io, fx.eoi_vector), fx.eoi_vector, false);
	for (unsigned int p = 0; p < CVM_IOAPIC_PINS; p++)
		if ((uint8_t)pre.rte[p] == fx.eoi_vector && (w->io.rte[p] & CVM_RTE_REMOTE_IRR))
			FZ_CHECK(pin_bit(w->io.level, p) && !(w->io.rte[p] & CVM_RTE_MASKED),
			         "EOI %#x left pin %u's remote IRR set", fx.eoi_vector, p);
}

static void write_svr(struct io_world *w, unsigned int v, uint32_t val)
{
	struct cvm_lapic *a = &w->apic[v];
	struct cvm_lapic_fx fx;

	if (cvm_lapic_x2apic(a))
		cvm_lapic_msr_write(a, &w->c[v], CVM_MSR_X2APIC_FIRST + CVM_APIC_SVR / 16,
		                    val & 0x11ffu, 0, &fx);
	else
		cvm_lapic_mmio_write(a, &w->c[v], CVM_APIC_SVR, val, 0, &fx);
}

static void step(void *ctx, struct fz *f)
{
	struct io_world *w = ctx;
	struct cvm_ioapic pre = w->io;
	uint32_t off, val, mask;
	unsigned int pin;
	bool level;

	switch (fz_u8(f) % FZ_IO_NR_OPS) {
	case FZ_IO_WRITE:
		off = offset_operand(f);
		guest_write(w, off, fz_u32(f));
		break;
	case FZ_IO_READ:
		guest_read(w, offset_operand(f));
		break;
	case FZ_IO_RTE:
		pin = fz_u8(f) % (CVM_IOAPIC_PINS + 2);
		off = fz_u8(f) & 1;
		val = fz_u32(f);
		guest_write(w, CVM_IOAPIC_REGSEL, 0x10 + 2 * pin + off);
		guest_write(w, CVM_IOAPIC_WIN, val);
		break;
	case FZ_IO_IRQ:
		pin = fz_u8(f) % (CVM_IOAPIC_PINS + 2);
		level = fz_u8(f) & 1;
		mask = cvm_ioapic_set_irq(&w->io, pin, level);
		FZ_CHECK(!(mask & ~(pin < 32 ? 1u << pin : 0)), "pin %u delivered %#x", pin, mask);
		if (pin < CVM_IOAPIC_PINS && !(w->io.rte[pin] & CVM_RTE_LEVEL))
			FZ_CHECK(!!mask == (level && !pin_bit(pre.level, pin) &&
			                    !(w->io.rte[pin] & CVM_RTE_MASKED)),
			         "edge pin %u level %u delivered %#x", pin, level, mask);
		deliver(w, &pre, mask, -1, true);
		break;
	case FZ_IO_ACK:
		cvm_lapic_ack(&w->apic[fz_u8(f) % w->n], NULL);
		break;
	case FZ_IO_EOI:
		lapic_eoi(w, fz_u8(f) % w->n);
		break;
	case FZ_IO_SVR:
		pin = fz_u8(f) % w->n;
		write_svr(w, pin, fz_u16(f));
		break;
	}
	check_ioapic(&w->io);
}

static void setup(void *ctx, struct fz *f)
{
	struct io_world *w = ctx;
	uint8_t id = fz_u8(f), x2mask;

	memset(w, 0, sizeof(*w));
	w->n = 1 + fz_u8(f) % MAXV;
	x2mask = fz_u8(f);
	cvm_ioapic_reset(&w->io, id);
	cvm_apic_bus_init(&w->bus, w->n);
	for (unsigned int v = 0; v < w->n; v++) {
		struct cvm_lapic_config cfg = {
		        .apic_id = v, .vcpu = (uint16_t)v, .bsp = v == 0, .x2apic = true};
		struct cvm_lapic_fx fx;
		cvm_lapic_power_on(&w->apic[v], &cfg);
		cvm_lc_power_on(&w->lc[v], v == 0 ? CVM_LC_OPT_BSP : 0);
		if ((x2mask >> v) & 1)
			cvm_lapic_set_base(&w->apic[v], w->apic[v].apic_base | CVM_APIC_BASE_EXTD,
			                   false, &fx);
		write_svr(w, v, 0x1ff);
		cvm_apic_bus_update(&w->bus, v, &w->apic[v]);
	}
	check_ioapic(&w->io);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fz_run_ops(data, size, setup, step, &world);
}
