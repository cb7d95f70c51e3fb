/* IPI routing: destination resolution over bitmaps and ID tables, lowest-priority arbitration, acceptance. */
#include "core/apic_bus.h"

#include <errno.h>
#include <string.h>

#define NBITS CVM_APIC_MAX_VCPUS

int cvm_apic_bus_init(struct cvm_apic_bus *b, unsigned int nr)
{
	if (!nr || nr > CVM_APIC_MAX_VCPUS)
		return -EINVAL;
	memset(b, 0, sizeof(*b));
	b->nr = nr;
	return 0;
}

static bool ent_xapic(const struct cvm_apic_bus *b, unsigned int v)
{
	return cvm_bit_test(b->enabled, v) && !cvm_bit_test(b->x2, v);
}

/* Recomputes one slot of an ID table: the single holder, nobody, or CVM_BUS_MANY. */
static void rebuild_xid(struct cvm_apic_bus *b, uint8_t id)
{
	uint16_t slot = 0;
	for (unsigned int v = 0; v < b->nr; v++) {
		if (!ent_xapic(b, v) || b->ent[v].xid != id)
			continue;
		slot = slot ? CVM_BUS_MANY : (uint16_t)(v + 1);
	}
	b->xid_map[id] = slot;
}

static void rebuild_x2id(struct cvm_apic_bus *b, uint32_t id)
{
	uint16_t slot = 0;
	if (id >= CVM_APIC_MAX_X2ID)
		return;
	for (unsigned int v = 0; v < b->nr; v++) {
		if (!cvm_bit_test(b->x2, v) || b->ent[v].x2id != id)
			continue;
		slot = slot ? CVM_BUS_MANY : (uint16_t)(v + 1);
	}
	b->x2id_map[id] = slot;
}

/* Adds (set) or removes (!set) vCPU v from the logical-destination bitmaps of its entry. */
static void logical_bits(struct cvm_apic_bus *b, unsigned int v, bool set)
{
	const struct cvm_apic_bus_ent *e = &b->ent[v];
	void (*op)(uint64_t *, unsigned int) = set ? cvm_bit_set : cvm_bit_clear;

	if (e->mode != CVM_APIC_MODE_XAPIC)
		return;
	if (e->flat) {
		for (unsigned int i = 0; i < 8; i++)
			if (e->ldr & (1u << i))
				op(b->xflat[i], v);
	} else {
		for (unsigned int i = 0; i < 4; i++)
			if (e->ldr & (1u << i))
				op(b->xcluster[e->ldr >> 4][i], v);
	}
}

int cvm_apic_bus_update(struct cvm_apic_bus *b, unsigned int vcpu, const struct cvm_lapic *a)
{
	struct cvm_apic_bus_ent old, *e;
	enum cvm_apic_mode mode = cvm_lapic_mode(a);

	if (vcpu >= b->nr)
		return -EINVAL;
	e = &b->ent[vcpu];
	old = *e;
	logical_bits(b, vcpu, false);
	cvm_bit_clear(b->enabled, vcpu);
	cvm_bit_clear(b->x2, vcpu);

	*e = (struct cvm_apic_bus_ent){
	        .x2id = a->x2apic_id,
	        .xid = a->xapic_id,
	        .ldr = (uint8_t)(a->ldr >> 24),
	        .mode = (uint8_t)mode,
	        .flat = (a->dfr >> 28) == 0xfu,
	};
	if (mode == CVM_APIC_MODE_XAPIC || mode == CVM_APIC_MODE_X2APIC) {
		cvm_bit_set(b->enabled, vcpu);
		if (mode == CVM_APIC_MODE_X2APIC)
			cvm_bit_set(b->x2, vcpu);
		logical_bits(b, vcpu, true);
	}
	rebuild_xid(b, old.xid);
	rebuild_xid(b, e->xid);
	rebuild_x2id(b, old.x2id);
	rebuild_x2id(b, e->x2id);
	return e->x2id >= CVM_APIC_MAX_X2ID ? -ERANGE : 0;
}

static void copy_set(uint64_t *dst, const uint64_t *src)
{
	memcpy(dst, src, sizeof(cvm_apic_set));
}

/* Physical ID `id` in one of the two tables; a collision slot is resolved by scanning. */
static void add_phys(const struct cvm_apic_bus *b, uint64_t *t, uint32_t id, bool x2table)
{
	uint16_t slot;

	if (x2table) {
		if (id >= CVM_APIC_MAX_X2ID)
			return;
		slot = b->x2id_map[id];
	} else {
		if (id > 0xff)
			return;
		slot = b->xid_map[id];
	}
	if (!slot)
		return;
	if (slot != CVM_BUS_MANY) {
		cvm_bit_set(t, slot - 1u);
		return;
	}
	for (unsigned int v = 0; v < b->nr; v++) {
		bool match = x2table ? cvm_bit_test(b->x2, v) && b->ent[v].x2id == id
		                     : ent_xapic(b, v) && b->ent[v].xid == id;
		if (match)
			cvm_bit_set(t, v);
	}
}

static void resolve_dest(const struct cvm_apic_bus *b, const struct cvm_apic_msg *m, uint64_t *t)
{
	bool x2 = m->flags & CVM_MSG_X2APIC;
	uint32_t d = m->dest;

	if (x2 ? d == CVM_APIC_BCAST_X2APIC : (d & 0xffu) == CVM_APIC_BCAST_XAPIC) {
		copy_set(t, b->enabled);
		return;
	}
	if (!x2)
		d &= 0xffu;
	if (!(m->flags & CVM_MSG_LOGICAL)) {
		add_phys(b, t, d, true);  /* x2APIC-mode targets compare their 32-bit ID */
		add_phys(b, t, d, false); /* xAPIC-mode targets their 8-bit ID */
		return;
	}
	/* x2APIC-mode targets: cluster (d >> 16) and a 16-bit member mask (8-bit form: cluster 0). */
	for (uint32_t mask = d & 0xffffu; mask; mask &= mask - 1)
		add_phys(b, t, ((d >> 16) << 4) | (uint32_t)__builtin_ctz(mask), true);
	if (d > 0xffu)
		return; /* xAPIC targets only understand 8-bit logical destinations */
	for (unsigned int i = 0; i < 8; i++)
		if (d & (1u << i))
			cvm_bitmap_or(t, t, b->xflat[i], NBITS);
	for (unsigned int i = 0; i < 4; i++)
		if (d & (1u << i))
			cvm_bitmap_or(t, t, b->xcluster[d >> 4][i], NBITS);
}

/* Keeps one target: lowest arbitration priority, ties broken by vector hashing. */
static void arbitrate(uint64_t *t, unsigned int n, uint8_t vector, cvm_apic_prio_fn prio, void *ctx)
{
	unsigned int v, best = 256, ties = 0, pick, chosen = 0;

	if (prio) {
		cvm_bitmap_for_each(v, t, NBITS)
		{
			unsigned int p = prio(ctx, v);
			if (p < best) {
				best = p;
				ties = 1;
			} else if (p == best) {
				ties++;
			}
		}
	} else {
		ties = n;
	}
	pick = vector % ties;
	cvm_bitmap_for_each(v, t, NBITS)
	{
		if (prio && prio(ctx, v) != best)
			continue;
		if (pick-- == 0) {
			chosen = v;
			break;
		}
	}
	cvm_bitmap_zero(t, NBITS);
	cvm_bit_set(t, chosen);
}

unsigned int cvm_apic_resolve(const struct cvm_apic_bus *b, const struct cvm_apic_msg *m,
                              cvm_apic_prio_fn prio, void *prio_ctx, cvm_apic_set targets)
{
	unsigned int n;

	cvm_bitmap_zero(targets, NBITS);
	if (m->mode == CVM_DM_RESERVED3)
		return 0;
	if (m->mode == CVM_DM_INIT && !(m->flags & CVM_MSG_ASSERT)) {
		copy_set(targets, b->enabled);
		return cvm_bitmap_weight(targets, NBITS);
	}
	switch (m->shorthand) {
	case CVM_SH_SELF:
		if (m->src < b->nr && cvm_bit_test(b->enabled, m->src))
			cvm_bit_set(targets, m->src);
		break;
	case CVM_SH_ALL:
		copy_set(targets, b->enabled);
		break;
	case CVM_SH_ALL_BUT_SELF:
		copy_set(targets, b->enabled);
		if (m->src < b->nr)
			cvm_bit_clear(targets, m->src);
		break;
	default:
		resolve_dest(b, m, targets);
		break;
	}
	n = cvm_bitmap_weight(targets, NBITS);
	if (m->mode == CVM_DM_LOWEST && n > 1) {
		arbitrate(targets, n, m->vector, prio, prio_ctx);
		n = 1;
	}
	return n;
}

enum cvm_disp cvm_apic_accept(struct cvm_lapic *a, struct cvm_lc *lc, struct cvm_counters *c,
                              const struct cvm_apic_msg *m)
{
	switch (m->mode) {
	case CVM_DM_FIXED:
	case CVM_DM_LOWEST:
		return cvm_lapic_accept_irq(a, c, m->vector, m->flags & CVM_MSG_LEVEL);
	case CVM_DM_EXTINT:
		cvm_count(c, CVM_CTR_IRQ_EXTINT);
		return CVM_DISP_EXTINT;
	default:
		return cvm_lc_deliver(lc, c, m->mode, m->vector, m->flags & CVM_MSG_ASSERT);
	}
}
