/* Unit tests for core/apic_bus.c: every destination mode and shorthand, arbitration, acceptance. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/apic_bus.h"

#define MAXV 1024

static struct cvm_apic_bus bus;
static struct cvm_lapic apic[MAXV];
static struct cvm_lc lc[MAXV];
static cvm_apic_set set;
static struct cvm_lapic_fx fx;

/* n vCPUs with APIC ID = id_base + index, all xAPIC or all x2APIC, software-enabled. */
static void setup(unsigned int n, uint32_t id_base, bool x2)
{
	assert_int_equal(cvm_apic_bus_init(&bus, n), 0);
	for (unsigned int i = 0; i < n; i++) {
		struct cvm_lapic_config cfg = {
		        .apic_id = id_base + i, .bsp = i == 0, .x2apic = true, .vcpu = (uint16_t)i};
		cvm_lapic_power_on(&apic[i], &cfg);
		if (x2)
			cvm_lapic_set_base(&apic[i], apic[i].apic_base | CVM_APIC_BASE_EXTD, false,
			                   &fx);
		apic[i].svr = 0x1ff;
		cvm_lc_power_on(&lc[i], i == 0 ? CVM_LC_OPT_BSP : 0);
		assert_int_equal(cvm_apic_bus_update(&bus, i, &apic[i]), 0);
	}
}

static struct cvm_apic_msg msg(uint32_t dest, unsigned int mode, uint8_t flags)
{
	return (struct cvm_apic_msg){.dest = dest,
	                             .src = 0,
	                             .vector = 0x40,
	                             .mode = (uint8_t)mode,
	                             .flags = (uint8_t)(flags | CVM_MSG_ASSERT)};
}

static unsigned int resolve(const struct cvm_apic_msg *m)
{
	return cvm_apic_resolve(&bus, m, NULL, NULL, set);
}

/* The resolved set as a bit mask of the first 64 vCPUs. */
static uint64_t low64(void)
{
	return set[0];
}

static void test_init_errors(void **state)
{
	struct cvm_lapic_config cfg = {.apic_id = 5000, .x2apic = true};

	assert_int_equal(cvm_apic_bus_init(&bus, 0), -EINVAL);
	assert_int_equal(cvm_apic_bus_init(&bus, MAXV + 1), -EINVAL);
	setup(4, 0, false);
	assert_int_equal(cvm_apic_bus_update(&bus, 4, &apic[0]), -EINVAL);
	cvm_lapic_power_on(&apic[3], &cfg);
	cvm_lapic_set_base(&apic[3], apic[3].apic_base | CVM_APIC_BASE_EXTD, false, &fx);
	assert_int_equal(cvm_apic_bus_update(&bus, 3, &apic[3]), -ERANGE);
	/* still reachable by broadcast, not by physical ID */
	struct cvm_apic_msg m = msg(5000, CVM_DM_FIXED, CVM_MSG_X2APIC);
	assert_int_equal(resolve(&m), 0);
	m.dest = 0xffffffffu;
	assert_int_equal(resolve(&m), 4);
}

static void test_physical_xapic(void **state)
{
	struct cvm_apic_msg m;

	setup(8, 0, false);
	m = msg(5, CVM_DM_FIXED, 0);
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 5);
	m.dest = 0xff;
	assert_int_equal(resolve(&m), 8);
	m.dest = 9;
	assert_int_equal(resolve(&m), 0);
	/* a guest-written ID; two APICs with one ID both receive */
	cvm_lapic_mmio_write(&apic[2], NULL, CVM_APIC_ID, 0x09000000, 0, &fx);
	assert_true(fx.flags & CVM_FX_ROUTE);
	cvm_apic_bus_update(&bus, 2, &apic[2]);
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 2);
	m.dest = 2;
	assert_int_equal(resolve(&m), 0);
	cvm_lapic_mmio_write(&apic[6], NULL, CVM_APIC_ID, 0x09000000, 0, &fx);
	cvm_apic_bus_update(&bus, 6, &apic[6]);
	m.dest = 9;
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == ((1u << 2) | (1u << 6)));
	/* ... and when one moves away the other is found by table again */
	cvm_lapic_mmio_write(&apic[6], NULL, CVM_APIC_ID, 0x06000000, 0, &fx);
	cvm_apic_bus_update(&bus, 6, &apic[6]);
	assert_int_equal(resolve(&m), 1);
	assert_int_equal(bus.xid_map[9], 3);
	/* a disabled APIC receives nothing */
	cvm_lapic_set_base(&apic[5], CVM_APIC_DEFAULT_BASE, false, &fx);
	cvm_apic_bus_update(&bus, 5, &apic[5]);
	m.dest = 5;
	assert_int_equal(resolve(&m), 0);
	m.dest = 0xff;
	assert_int_equal(resolve(&m), 7);
}

static void test_physical_x2apic(void **state)
{
	struct cvm_apic_msg m;

	setup(16, 0x100, true);
	m = msg(0x10a, CVM_DM_FIXED, CVM_MSG_X2APIC);
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 10);
	m.dest = 0xff; /* 32-bit form: 0xff is an ordinary ID */
	assert_int_equal(resolve(&m), 0);
	m.dest = 0xffffffffu;
	assert_int_equal(resolve(&m), 16);
	/* 8-bit form (I/O APIC): 0xff is a broadcast to x2APIC targets too */
	m = msg(0xff, CVM_DM_FIXED, 0);
	assert_int_equal(resolve(&m), 16);
	m.dest = 0x0a;
	assert_int_equal(resolve(&m), 0);
}

static void test_logical_flat(void **state)
{
	struct cvm_apic_msg m;

	setup(8, 0, false);
	for (unsigned int i = 0; i < 8; i++) {
		cvm_lapic_mmio_write(&apic[i], NULL, CVM_APIC_LDR, (1u << i) << 24, 0, &fx);
		cvm_apic_bus_update(&bus, i, &apic[i]);
	}
	m = msg(0x05, CVM_DM_FIXED, CVM_MSG_LOGICAL);
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == 0x05);
	m.dest = 0xff;
	assert_int_equal(resolve(&m), 8);
	m.dest = 0;
	assert_int_equal(resolve(&m), 0);
	/* two logical IDs sharing a bit */
	cvm_lapic_mmio_write(&apic[7], NULL, CVM_APIC_LDR, 0x03000000, 0, &fx);
	cvm_apic_bus_update(&bus, 7, &apic[7]);
	m.dest = 0x02;
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == ((1u << 1) | (1u << 7)));
}

static void test_logical_cluster_xapic(void **state)
{
	struct cvm_apic_msg m;

	setup(8, 0, false);
	for (unsigned int i = 0; i < 8; i++) {
		uint32_t ldr = ((i / 4) << 4) | (1u << (i % 4)); /* clusters 0 and 1 */
		cvm_lapic_mmio_write(&apic[i], NULL, CVM_APIC_DFR, 0x0fffffff, 0, &fx);
		cvm_lapic_mmio_write(&apic[i], NULL, CVM_APIC_LDR, ldr << 24, 0, &fx);
		cvm_apic_bus_update(&bus, i, &apic[i]);
	}
	m = msg(0x13, CVM_DM_FIXED, CVM_MSG_LOGICAL); /* cluster 1, members 0 and 1 */
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == 0x30);
	m.dest = 0x0c;
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == 0x0c);
	m.dest = 0x2f;
	assert_int_equal(resolve(&m), 0);
	m.dest = 0xff;
	assert_int_equal(resolve(&m), 8);
}

static void test_logical_cluster_x2apic(void **state)
{
	struct cvm_apic_msg m;

	setup(40, 0, true); /* clusters 0, 1, 2 (IDs 32..39) */
	m = msg((1u << 16) | 0x8001, CVM_DM_FIXED, CVM_MSG_LOGICAL | CVM_MSG_X2APIC);
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == ((1ull << 16) | (1ull << 31)));
	m.dest = (2u << 16) | 0xffff;
	assert_int_equal(resolve(&m), 8);
	m.dest = (7u << 16) | 1;
	assert_int_equal(resolve(&m), 0);
	m.dest = 0xffffffffu;
	assert_int_equal(resolve(&m), 40);
	/* 8-bit logical (I/O APIC) to x2APIC targets: cluster 0, 8 member bits */
	m = msg(0x81, CVM_DM_FIXED, CVM_MSG_LOGICAL);
	assert_int_equal(resolve(&m), 2);
	assert_true(low64() == 0x81);
}

static void test_shorthands(void **state)
{
	struct cvm_apic_msg m;

	setup(6, 0, false);
	m = msg(3, CVM_DM_FIXED, 0);
	m.src = 2;
	m.shorthand = CVM_SH_SELF;
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 2);
	m.shorthand = CVM_SH_ALL;
	assert_int_equal(resolve(&m), 6);
	m.shorthand = CVM_SH_ALL_BUT_SELF;
	assert_int_equal(resolve(&m), 5);
	assert_true(low64() == 0x3b);
	m.src = CVM_APIC_SRC_NONE;
	assert_int_equal(resolve(&m), 6);
	m.shorthand = CVM_SH_SELF;
	assert_int_equal(resolve(&m), 0);
	/* INIT level de-assert reaches everybody whatever the destination */
	m = msg(3, CVM_DM_INIT, 0);
	m.flags = CVM_MSG_LEVEL;
	assert_int_equal(resolve(&m), 6);
	/* reserved delivery mode: nobody */
	m = msg(3, CVM_DM_RESERVED3, 0);
	assert_int_equal(resolve(&m), 0);
}

static uint8_t prio_of(void *ctx, unsigned int v)
{
	return cvm_lapic_apr(&((struct cvm_lapic *)ctx)[v]);
}

/* Lowest priority: exactly one target, the lowest APR, ties by vector hashing. */
static void test_lowest_priority(void **state)
{
	struct cvm_apic_msg m;

	setup(4, 0, false);
	m = msg(0xff, CVM_DM_LOWEST, 0);
	m.vector = 0x41;
	assert_int_equal(cvm_apic_resolve(&bus, &m, prio_of, apic, set), 1);
	assert_true(low64() == 1u << 1); /* all APR 0: 0x41 % 4 = 1 */
	m.vector = 0x42;
	assert_int_equal(cvm_apic_resolve(&bus, &m, prio_of, apic, set), 1);
	assert_true(low64() == 1u << 2);
	/* raise everyone's TPR but vCPU 3's */
	for (unsigned int i = 0; i < 3; i++)
		cvm_lapic_set_tpr(&apic[i], 0x20);
	assert_int_equal(cvm_apic_resolve(&bus, &m, prio_of, apic, set), 1);
	assert_true(low64() == 1u << 3);
	/* tie between 2 and 3 at the minimum: vector 0x43 % 2 = 1 -> the second, vCPU 3 */
	cvm_lapic_set_tpr(&apic[2], 0);
	m.vector = 0x43;
	cvm_apic_resolve(&bus, &m, prio_of, apic, set);
	assert_true(low64() == 1u << 3);
	m.vector = 0x44;
	cvm_apic_resolve(&bus, &m, prio_of, apic, set);
	assert_true(low64() == 1u << 2);
	/* deterministic: the same inputs give the same choice */
	cvm_apic_resolve(&bus, &m, prio_of, apic, set);
	assert_true(low64() == 1u << 2);
	/* without a priority source: vector hashing over all candidates */
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 0);
	/* a single candidate is kept */
	m.dest = 1;
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 1);
}

/* Broadcast over 1024 vCPUs; unicast finds the last one. */
static void test_1024(void **state)
{
	struct cvm_apic_msg m;

	setup(MAXV, 0, true);
	m = msg(0xffffffffu, CVM_DM_FIXED, CVM_MSG_X2APIC);
	assert_int_equal(resolve(&m), 1024);
	m.shorthand = CVM_SH_ALL_BUT_SELF;
	m.src = 1023;
	assert_int_equal(resolve(&m), 1023);
	assert_false(cvm_bit_test(set, 1023));
	m = msg(1023, CVM_DM_FIXED, CVM_MSG_X2APIC);
	assert_int_equal(resolve(&m), 1);
	assert_true(cvm_bit_test(set, 1023));
	m = msg((63u << 16) | 0xffff, CVM_DM_FIXED, CVM_MSG_X2APIC | CVM_MSG_LOGICAL);
	assert_int_equal(resolve(&m), 16);
	assert_true(cvm_bit_test(set, 1008) && cvm_bit_test(set, 1023));
}

/* Acceptance sends fixed/lowest to the local APIC and the rest to the lifecycle. */
static void test_accept(void **state)
{
	struct cvm_counters c = {0};
	struct cvm_apic_msg m;

	setup(2, 0, false);
	m = msg(1, CVM_DM_FIXED, CVM_MSG_LEVEL);
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lapic_pending(&apic[1]), 0x40);
	m.mode = CVM_DM_LOWEST;
	m.vector = 0x50;
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_ACCEPTED);
	m.mode = CVM_DM_EXTINT;
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_EXTINT);
	assert_int_equal(c.n[CVM_CTR_IRQ_EXTINT], 1);
	m = msg(1, CVM_DM_INIT, 0);
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_ACCEPTED);
	assert_int_equal(lc[1].mp, CVM_MP_INIT_RECEIVED);
	m = msg(1, CVM_DM_STARTUP, 0);
	m.vector = 0x9;
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_ACCEPTED);
	assert_int_equal(lc[1].sipi_vector, 9);
	m = msg(1, CVM_DM_SMI, 0);
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_LATCHED);
	m = msg(1, CVM_DM_NMI, 0);
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_LATCHED);
	m = msg(1, CVM_DM_INIT, CVM_MSG_LEVEL);
	m.flags = CVM_MSG_LEVEL; /* de-assert */
	assert_int_equal(cvm_apic_accept(&apic[1], &lc[1], &c, &m), CVM_DISP_DISCARDED);
	assert_int_equal(c.n[CVM_CTR_INIT_DEASSERT_IGNORED], 1);
}

/* End to end: the BSP writes the ICR, the message is routed, the AP starts. */
static void test_init_sipi_end_to_end(void **state)
{
	struct cvm_counters c = {0};
	unsigned int v;

	setup(4, 0, false);
	cvm_lapic_mmio_write(&apic[0], NULL, CVM_APIC_ICR_HI, 0, 0, &fx);
	cvm_lapic_mmio_write(&apic[0], NULL, CVM_APIC_ICR_LO, 0x000c4500, 0,
	                     &fx); /* INIT all-but-self */
	assert_true(fx.flags & CVM_FX_IPI);
	assert_int_equal(cvm_apic_resolve(&bus, &fx.ipi, NULL, NULL, set), 3);
	cvm_bitmap_for_each(v, set, MAXV) cvm_apic_accept(&apic[v], &lc[v], &c, &fx.ipi);
	cvm_lapic_mmio_write(&apic[0], NULL, CVM_APIC_ICR_HI, 0x02000000, 0, &fx);
	cvm_lapic_mmio_write(&apic[0], NULL, CVM_APIC_ICR_LO, 0x00004610, 0, &fx); /* SIPI to 2 */
	assert_int_equal(cvm_apic_resolve(&bus, &fx.ipi, NULL, NULL, set), 1);
	cvm_bitmap_for_each(v, set, MAXV) cvm_apic_accept(&apic[v], &lc[v], &c, &fx.ipi);
	assert_int_equal(lc[1].mp, CVM_MP_INIT_RECEIVED);
	assert_int_equal(lc[2].mp, CVM_MP_SIPI_RECEIVED);
	assert_int_equal(lc[3].mp, CVM_MP_INIT_RECEIVED);
	assert_int_equal(lc[0].mp, CVM_MP_RUNNABLE);
	assert_int_equal(c.n[CVM_CTR_INIT_TAKEN], 3);
	assert_int_equal(c.n[CVM_CTR_SIPI_ACCEPTED], 1);
}

/*
 * Found by fuzz_apic_bus: INIT resets the LDR, and the routing view must follow
 * (cvm_lapic_init_reset() reports CVM_FX_ROUTE), or logical IPIs keep reaching
 * the vCPU under its old logical ID.
 */
static void test_init_reset_republishes(void **state)
{
	struct cvm_apic_msg m;

	setup(4, 0, false);
	for (unsigned int i = 0; i < 4; i++) {
		cvm_lapic_mmio_write(&apic[i], NULL, CVM_APIC_LDR, (1u << i) << 24, 0, &fx);
		cvm_apic_bus_update(&bus, i, &apic[i]);
	}
	m = msg(0x04, CVM_DM_NMI, CVM_MSG_LOGICAL);
	assert_int_equal(resolve(&m), 1);
	assert_true(low64() == 1u << 2);
	cvm_lapic_init_reset(&apic[2], &fx);
	assert_true(fx.flags & CVM_FX_ROUTE);
	cvm_apic_bus_update(&bus, 2, &apic[2]);
	assert_int_equal(resolve(&m), 0);
	m.dest = 0x0b;
	assert_int_equal(resolve(&m), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_init_errors),
	        cmocka_unit_test(test_physical_xapic),
	        cmocka_unit_test(test_physical_x2apic),
	        cmocka_unit_test(test_logical_flat),
	        cmocka_unit_test(test_logical_cluster_xapic),
	        cmocka_unit_test(test_logical_cluster_x2apic),
	        cmocka_unit_test(test_shorthands),
	        cmocka_unit_test(test_lowest_priority),
	        cmocka_unit_test(test_1024),
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_init_sipi_end_to_end),
	        cmocka_unit_test(test_init_reset_republishes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
