/* Unit tests for core/lapic.c: every register in xAPIC and x2APIC form, priorities, EOI, LINT, timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/lapic.h"

#define MSR(off) (CVM_MSR_X2APIC_FIRST + (off) / 16)

static struct cvm_lapic_fx fx;
static struct cvm_counters ctr;

static void mk(struct cvm_lapic *a, uint32_t id, bool x2)
{
	struct cvm_lapic_config cfg = {.apic_id = id,
	                               .bsp = id == 0,
	                               .x2apic = true,
	                               .phys_bits = 46,
	                               .tsc_khz = 2000000,
	                               .vcpu = (uint16_t)id};
	cvm_lapic_power_on(a, &cfg);
	memset(&ctr, 0, sizeof(ctr));
	if (x2)
		assert_int_equal(
		        cvm_lapic_set_base(a, a->apic_base | CVM_APIC_BASE_EXTD, false, &fx),
		        CVM_APIC_OK);
}

static uint32_t rd(struct cvm_lapic *a, uint32_t off)
{
	uint32_t v = 0xdeadbeef;
	cvm_lapic_mmio_read(a, off, 0, &v);
	return v;
}

static enum cvm_apic_status wr(struct cvm_lapic *a, uint32_t off, uint32_t v)
{
	return cvm_lapic_mmio_write(a, &ctr, off, v, 0, &fx);
}

static uint64_t rdm(struct cvm_lapic *a, uint32_t off)
{
	uint64_t v = 0xdeadbeef;
	assert_int_equal(cvm_lapic_msr_read(a, MSR(off), 0, &v), CVM_APIC_OK);
	return v;
}

static enum cvm_apic_status wrm(struct cvm_lapic *a, uint32_t off, uint64_t v)
{
	return cvm_lapic_msr_write(a, &ctr, MSR(off), v, 0, &fx);
}

static void enable(struct cvm_lapic *a)
{
	if (cvm_lapic_x2apic(a))
		assert_int_equal(wrm(a, CVM_APIC_SVR, 0x1ff), CVM_APIC_OK);
	else
		assert_int_equal(wr(a, CVM_APIC_SVR, 0x1ff), CVM_APIC_OK);
}

static void test_power_on_values(void **state)
{
	struct cvm_lapic a;
	uint32_t lvts[] = {CVM_APIC_LVT_TIMER, CVM_APIC_LVT_THERMAL, CVM_APIC_LVT_PERF,
	                   CVM_APIC_LVT_LINT0, CVM_APIC_LVT_LINT1,   CVM_APIC_LVT_ERROR,
	                   CVM_APIC_LVT_CMCI};

	mk(&a, 0, false);
	assert_true(cvm_lapic_get_base(&a) == 0xfee00900u);
	assert_true(cvm_lapic_mmio_base(&a) == 0xfee00000u);
	assert_int_equal(cvm_lapic_mode(&a), CVM_APIC_MODE_XAPIC);
	assert_false(cvm_lapic_sw_enabled(&a));
	assert_int_equal(rd(&a, CVM_APIC_ID), 0);
	assert_int_equal(rd(&a, CVM_APIC_VERSION), 0x01060014);
	assert_int_equal(rd(&a, CVM_APIC_TPR), 0);
	assert_int_equal(rd(&a, CVM_APIC_LDR), 0);
	assert_int_equal(rd(&a, CVM_APIC_DFR), 0xffffffffu);
	assert_int_equal(rd(&a, CVM_APIC_SVR), 0xff);
	for (unsigned int i = 0; i < 7; i++)
		assert_int_equal(rd(&a, lvts[i]), 0x10000);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0);
	assert_int_equal(rd(&a, CVM_APIC_ICR_LO), 0);
	assert_int_equal(rd(&a, CVM_APIC_TMICT), 0);
	assert_int_equal(rd(&a, CVM_APIC_TMCCT), 0);
	assert_int_equal(rd(&a, CVM_APIC_TDCR), 0);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
	mk(&a, 7, false);
	assert_true(cvm_lapic_get_base(&a) == 0xfee00800u); /* not BSP */
	assert_int_equal(rd(&a, CVM_APIC_ID), 7u << 24);
}

/* xAPIC MMIO: what is writable, what is read-only, reserved offsets. */
static void test_xapic_registers(void **state)
{
	struct cvm_lapic a;

	mk(&a, 3, false);
	assert_int_equal(wr(&a, CVM_APIC_ID, 0x05000000), CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_ROUTE);
	assert_int_equal(rd(&a, CVM_APIC_ID), 0x05000000);
	assert_int_equal(wr(&a, CVM_APIC_VERSION, 0), CVM_APIC_IGNORED);
	assert_int_equal(wr(&a, CVM_APIC_TPR, 0x1234), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_TPR), 0x34);
	assert_int_equal(wr(&a, CVM_APIC_APR, 0x10), CVM_APIC_IGNORED);
	assert_int_equal(wr(&a, CVM_APIC_PPR, 0x10), CVM_APIC_IGNORED);
	assert_int_equal(rd(&a, CVM_APIC_PPR), 0x34);
	assert_int_equal(rd(&a, CVM_APIC_APR), 0x34);
	assert_int_equal(rd(&a, CVM_APIC_RRD), 0);
	assert_int_equal(wr(&a, CVM_APIC_RRD, 1), CVM_APIC_IGNORED);
	assert_int_equal(wr(&a, CVM_APIC_LDR, 0x12345678), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LDR), 0x12000000);
	assert_int_equal(wr(&a, CVM_APIC_DFR, 0), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_DFR), 0x0fffffff);
	assert_int_equal(wr(&a, CVM_APIC_SVR, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_SVR), 0x13ff);
	for (uint32_t off = CVM_APIC_ISR; off < CVM_APIC_ESR; off += 16) {
		assert_int_equal(wr(&a, off, 0xffffffff), CVM_APIC_IGNORED);
		assert_int_equal(rd(&a, off), 0);
	}
	assert_int_equal(wr(&a, CVM_APIC_ICR_HI, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_ICR_HI), 0xff000000);
	assert_int_equal(wr(&a, CVM_APIC_LVT_TIMER, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_TIMER), 0x700ff);
	assert_int_equal(wr(&a, CVM_APIC_LVT_LINT0, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_LINT0), 0x1a7ff);
	assert_int_equal(wr(&a, CVM_APIC_LVT_LINT1, 0x700), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_LINT1), 0x700);
	assert_int_equal(wr(&a, CVM_APIC_LVT_THERMAL, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_THERMAL), 0x107ff);
	assert_int_equal(wr(&a, CVM_APIC_LVT_PERF, 0x400), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_PERF), 0x400);
	assert_int_equal(wr(&a, CVM_APIC_LVT_ERROR, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_ERROR), 0x100ff);
	assert_int_equal(wr(&a, CVM_APIC_LVT_CMCI, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LVT_CMCI), 0x107ff);
	assert_int_equal(wr(&a, CVM_APIC_TDCR, 0xffffffff), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_TDCR), 0xb);
	assert_int_equal(wr(&a, CVM_APIC_TMCCT, 5), CVM_APIC_IGNORED);
	/* write-only and x2APIC-only */
	assert_int_equal(cvm_lapic_mmio_read(&a, CVM_APIC_EOI, 0, &(uint32_t){0}),
	                 CVM_APIC_IGNORED);
	assert_int_equal(wr(&a, CVM_APIC_SELF_IPI, 0x40), CVM_APIC_IGNORED);
	assert_int_equal(fx.flags, 0);
	/* reserved offset: ignored and logged as an illegal register address (ESR bit 7) */
	assert_int_equal(wr(&a, 0x040, 1), CVM_APIC_IGNORED);
	assert_int_equal(rd(&a, 0x050), 0);
	assert_int_equal(wr(&a, CVM_APIC_ESR, 0), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0x80);
	assert_int_equal(wr(&a, CVM_APIC_ESR, 0), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0);
	/* unaligned or out of the page: not decoded */
	assert_int_equal(wr(&a, CVM_APIC_TPR + 4, 1), CVM_APIC_IGNORED);
	assert_int_equal(rd(&a, CVM_APIC_TPR + 4), 0);
	assert_int_equal(rd(&a, 0x400), 0);
	/* MSR access in xAPIC mode: #GP */
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_ID), 0, &(uint64_t){0}), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_TPR, 0), CVM_APIC_GP);
}

/* x2APIC MSRs: the SDM's #GP cases and the 32-bit ID / derived LDR. */
static void test_x2apic_registers(void **state)
{
	struct cvm_lapic a;
	uint64_t v;

	mk(&a, 0x123, true);
	assert_true(rdm(&a, CVM_APIC_ID) == 0x123);
	assert_true(rdm(&a, CVM_APIC_LDR) == ((0x12u << 16) | (1u << 3)));
	assert_true(rdm(&a, CVM_APIC_VERSION) == 0x01060014);
	assert_int_equal(wrm(&a, CVM_APIC_ID, 5), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_VERSION, 5), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_LDR, 5), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_PPR, 0), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_TMCCT, 0), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ISR, 0), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_IRR + 0x70, 0), CVM_APIC_GP);
	/* registers x2APIC does not have */
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_APR), 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_RRD), 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_DFR), 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_ICR_HI), 0, &v), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_DFR, 0xffffffff), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ICR_HI, 0), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_APR, 0), CVM_APIC_GP);
	/* reserved MSR numbers */
	assert_int_equal(cvm_lapic_msr_read(&a, 0x801, 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, 0x829, 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, 0x8ff, 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, 0x900, 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_write(&a, &ctr, 0x83a, 0, 0, &fx), CVM_APIC_GP);
	/* write-only registers */
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_EOI), 0, &v), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_msr_read(&a, MSR(CVM_APIC_SELF_IPI), 0, &v), CVM_APIC_GP);
	/* reserved bits */
	assert_int_equal(wrm(&a, CVM_APIC_TPR, 0x100), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_TPR, 0x50), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_TPR) == 0x50);
	assert_int_equal(wrm(&a, CVM_APIC_TPR, 1ull << 32), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_SVR, 0x400), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_SVR, 0x13ff), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_EOI, 1), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_EOI, 0), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_ESR, 1), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ESR, 0), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_ESR) == 0);
	assert_int_equal(wrm(&a, CVM_APIC_LVT_TIMER, 0x800), CVM_APIC_GP);  /* delivery mode bit */
	assert_int_equal(wrm(&a, CVM_APIC_LVT_TIMER, 0x1000), CVM_APIC_OK); /* read-only bit */
	assert_int_equal(wrm(&a, CVM_APIC_LVT_ERROR, 0x400), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_LVT_LINT0, 0x4000 | 0x8000 | 0x700), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_LVT_LINT0) == (0x8000 | 0x700)); /* remote IRR stays 0 */
	assert_int_equal(wrm(&a, CVM_APIC_LVT_LINT1, 1u << 17), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_LVT_CMCI, 0x200), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_LVT_THERMAL, 0x400), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_LVT_PERF, 0x400), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_TDCR, 0x4), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_TDCR, 0xb), CVM_APIC_OK);
	assert_int_equal(wrm(&a, CVM_APIC_TMICT, 0xffffffff), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_TMICT) == 0xffffffff);
	assert_int_equal(wrm(&a, CVM_APIC_SELF_IPI, 0x100), CVM_APIC_GP);
	/* 64-bit ICR with its reserved bits */
	assert_int_equal(wrm(&a, CVM_APIC_ICR_LO, 0x1000 | 0x40), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ICR_LO, 0x20000 | 0x40), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ICR_LO, 0x100000 | 0x40), CVM_APIC_GP);
	assert_int_equal(wrm(&a, CVM_APIC_ICR_LO, (0x456ull << 32) | 0x4041), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_ICR_LO) == ((0x456ull << 32) | 0x4041));
	assert_true(fx.flags & CVM_FX_IPI);
	assert_int_equal(fx.ipi.dest, 0x456);
	assert_int_equal(fx.ipi.vector, 0x41);
	assert_int_equal(fx.ipi.src, 0x123);
	assert_true(fx.ipi.flags & CVM_MSG_X2APIC);
	/* MMIO is not decoded in x2APIC mode */
	assert_int_equal(wr(&a, CVM_APIC_TPR, 0), CVM_APIC_IGNORED);
}

/* IA32_APIC_BASE: legal and illegal transitions, reserved bits, relocation. */
static void test_apic_base(void **state)
{
	struct cvm_lapic a;
	const uint64_t base = 0xfee00000u, en = CVM_APIC_BASE_EN, x2 = CVM_APIC_BASE_EXTD;

	mk(&a, 2, false);
	assert_int_equal(cvm_lapic_set_base(&a, base | en | 0x1, false, &fx), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_set_base(&a, base | en | 0x200, false, &fx), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_set_base(&a, (1ull << 46) | base | en, false, &fx), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_set_base(&a, base | x2, false, &fx), CVM_APIC_GP); /* invalid */
	/* relocation */
	assert_int_equal(cvm_lapic_set_base(&a, 0xfed00000u | en, false, &fx), CVM_APIC_OK);
	assert_int_equal(fx.flags, CVM_FX_BASE);
	assert_true(cvm_lapic_mmio_base(&a) == 0xfed00000u);
	/* xAPIC -> x2APIC -> xAPIC is illegal; -> disabled -> xAPIC is fine */
	wr(&a, CVM_APIC_TPR, 0x20);
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2, false, &fx), CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_ROUTE);
	assert_true(rdm(&a, CVM_APIC_TPR) == 0x20); /* state kept across xAPIC -> x2APIC */
	assert_int_equal(cvm_lapic_set_base(&a, base | en, false, &fx), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_set_base(&a, base, false, &fx), CVM_APIC_OK);
	assert_int_equal(cvm_lapic_mode(&a), CVM_APIC_MODE_DISABLED);
	assert_false(cvm_lapic_hw_enabled(&a));
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2, false, &fx), CVM_APIC_GP);
	assert_int_equal(cvm_lapic_set_base(&a, base | en, false, &fx), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_TPR), 0); /* power-up values after re-enable */
	assert_int_equal(rd(&a, CVM_APIC_ID), 2u << 24);
	/* the host may restore x2APIC -> xAPIC and disabled -> x2APIC */
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2, true, &fx), CVM_APIC_OK);
	assert_int_equal(cvm_lapic_set_base(&a, base | en, true, &fx), CVM_APIC_OK);
	assert_int_equal(rd(&a, CVM_APIC_LDR), 0);
	assert_int_equal(cvm_lapic_set_base(&a, base, true, &fx), CVM_APIC_OK);
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2, true, &fx), CVM_APIC_OK);
	assert_true(rdm(&a, CVM_APIC_LDR) == 4);
	/* BSP bit is writable; EXTD is reserved without x2APIC in CPUID */
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2 | CVM_APIC_BASE_BSP, false, &fx),
	                 CVM_APIC_OK);
	a.x2apic_ok = 0;
	assert_int_equal(cvm_lapic_set_base(&a, base | en | x2, false, &fx), CVM_APIC_GP);
	/* disabled APIC: MMIO not decoded, interrupts refused */
	a.x2apic_ok = 1;
	cvm_lapic_set_base(&a, base, false, &fx);
	assert_int_equal(wr(&a, CVM_APIC_TPR, 0), CVM_APIC_IGNORED);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x40, false), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lapic_pending(&a), -1);
}

/* INIT resets everything but the ID and IA32_APIC_BASE. */
static void test_init_reset(void **state)
{
	struct cvm_lapic a;

	mk(&a, 1, false);
	wr(&a, CVM_APIC_ID, 0x09000000);
	enable(&a);
	wr(&a, CVM_APIC_TPR, 0x30);
	wr(&a, CVM_APIC_LDR, 0x01000000);
	wr(&a, CVM_APIC_LVT_LINT0, 0x700);
	cvm_lapic_accept_irq(&a, &ctr, 0x50, false);
	cvm_lapic_set_base(&a, 0xfed00000u | CVM_APIC_BASE_EN, false, &fx);
	cvm_lapic_init_reset(&a, &fx);
	/* the LDR changed: the routing view must be republished (found by fuzz_apic_bus) */
	assert_true(fx.flags & CVM_FX_ROUTE);
	assert_true(fx.flags & CVM_FX_TIMER);
	assert_int_equal(rd(&a, CVM_APIC_ID), 0x09000000);
	assert_true(cvm_lapic_get_base(&a) == (0xfed00000u | CVM_APIC_BASE_EN));
	assert_int_equal(rd(&a, CVM_APIC_TPR), 0);
	assert_int_equal(rd(&a, CVM_APIC_LDR), 0);
	assert_int_equal(rd(&a, CVM_APIC_SVR), 0xff);
	assert_int_equal(rd(&a, CVM_APIC_LVT_LINT0), 0x10000);
	assert_int_equal(rd(&a, CVM_APIC_IRR + 0x20), 0);
	/* x2APIC: mode, ID and the derived LDR survive */
	mk(&a, 0x31, true);
	cvm_lapic_init_reset(&a, &fx);
	assert_true(cvm_lapic_x2apic(&a));
	assert_true(rdm(&a, CVM_APIC_LDR) == ((3u << 16) | 2u));
}

/* PPR and APR arithmetic; TPR masking; acknowledge and EOI order. */
static void test_priorities(void **state)
{
	struct cvm_lapic a;

	mk(&a, 0, false);
	enable(&a);
	assert_int_equal(cvm_lapic_ppr(&a), 0);
	assert_int_equal(cvm_lapic_pending(&a), -1);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x45, false), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lapic_pending(&a), 0x45);
	assert_int_equal(rd(&a, CVM_APIC_IRR + 0x20), 1u << 5);
	/* TPR class 4 masks class 4 */
	cvm_lapic_set_tpr(&a, 0x4f);
	assert_int_equal(cvm_lapic_tpr(&a), 0x4f);
	assert_int_equal(cvm_lapic_ppr(&a), 0x4f);
	assert_int_equal(cvm_lapic_pending(&a), -1);
	assert_int_equal(cvm_lapic_ack(&a, &ctr), -1);
	assert_int_equal(cvm_lapic_apr(&a), 0x4f); /* TPR class >= IRRV class, > ISRV class */
	cvm_lapic_set_tpr(&a, 0x3f);
	assert_int_equal(cvm_lapic_apr(&a), 0x40); /* IRRV class wins */
	assert_int_equal(cvm_lapic_ack(&a, &ctr), 0x45);
	assert_int_equal(rd(&a, CVM_APIC_ISR + 0x20), 1u << 5);
	assert_int_equal(cvm_lapic_ppr(&a), 0x40); /* ISRV class above TPR */
	assert_int_equal(cvm_lapic_apr(&a), 0x40);
	/* a same-class vector waits; a higher class preempts */
	cvm_lapic_accept_irq(&a, &ctr, 0x4a, false);
	assert_int_equal(cvm_lapic_pending(&a), -1);
	cvm_lapic_accept_irq(&a, &ctr, 0x91, false);
	assert_int_equal(cvm_lapic_pending(&a), 0x91);
	assert_int_equal(cvm_lapic_ack(&a, &ctr), 0x91);
	assert_int_equal(cvm_lapic_ppr(&a), 0x90);
	cvm_lapic_set_tpr(&a, 0xa0);
	assert_int_equal(cvm_lapic_ppr(&a), 0xa0);
	cvm_lapic_set_tpr(&a, 0);
	/* EOI retires the highest ISR vector first */
	memset(&fx, 0, sizeof(fx));
	assert_int_equal(cvm_lapic_eoi(&a, &ctr, &fx), 0x91);
	assert_int_equal(cvm_lapic_pending(&a), -1); /* 0x4a same class as in-service 0x45 */
	assert_int_equal(wr(&a, CVM_APIC_EOI, 0), CVM_APIC_OK);
	assert_int_equal(cvm_lapic_pending(&a), 0x4a);
	assert_int_equal(cvm_lapic_eoi(&a, &ctr, &fx), -1);
	assert_int_equal(ctr.n[CVM_CTR_EOI], 2);
	assert_int_equal(fx.flags & CVM_FX_EOI, 0); /* edge: no broadcast */
}

/* Acceptance: TMR per trigger, coalescing, software-disable, illegal vectors and the error LVT. */
static void test_accept(void **state)
{
	struct cvm_lapic a;

	mk(&a, 0, false);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x40, false), CVM_DISP_DISCARDED);
	assert_int_equal(ctr.n[CVM_CTR_IRQ_REJECTED_DISABLED], 1);
	enable(&a);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x60, true), CVM_DISP_ACCEPTED);
	assert_int_equal(rd(&a, CVM_APIC_TMR + 0x30), 1);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x60, false), CVM_DISP_MERGED);
	assert_int_equal(rd(&a, CVM_APIC_TMR + 0x30), 0);
	assert_int_equal(ctr.n[CVM_CTR_IRQ_COALESCED], 1);
	/* receive illegal vector: ESR bit 6, and the error LVT fires */
	wr(&a, CVM_APIC_LVT_ERROR, 0xfe);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x0f, false), CVM_DISP_DISCARDED);
	assert_int_equal(ctr.n[CVM_CTR_IRQ_ILLEGAL_VECTOR], 1);
	wr(&a, CVM_APIC_ESR, 0);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0x40);
	assert_int_equal(cvm_lapic_pending(&a), 0xfe);
	/* an illegal error vector only logs */
	wr(&a, CVM_APIC_LVT_ERROR, 0x03);
	cvm_lapic_accept_irq(&a, &ctr, 0x01, false);
	wr(&a, CVM_APIC_ESR, 0);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0x40);
	/* send illegal vector: ESR bit 5, no IPI */
	wr(&a, CVM_APIC_LVT_ERROR, CVM_LVT_MASKED);
	wr(&a, CVM_APIC_ICR_LO, 0x000c0005);
	assert_int_equal(fx.flags & CVM_FX_IPI, 0);
	wr(&a, CVM_APIC_ESR, 0);
	assert_int_equal(rd(&a, CVM_APIC_ESR), 0x20);
	/* reserved delivery modes send nothing */
	wr(&a, CVM_APIC_ICR_LO, 0x00000340);
	assert_int_equal(fx.flags, 0);
	wr(&a, CVM_APIC_ICR_LO, 0x00000740);
	assert_int_equal(fx.flags, 0);
	/* software-disable masks every LVT and refuses fixed interrupts */
	wr(&a, CVM_APIC_LVT_TIMER, 0x30);
	wr(&a, CVM_APIC_SVR, 0xff);
	assert_int_equal(rd(&a, CVM_APIC_LVT_TIMER), 0x10030);
	wr(&a, CVM_APIC_LVT_TIMER, 0x30);
	assert_int_equal(rd(&a, CVM_APIC_LVT_TIMER), 0x10030);
	assert_int_equal(cvm_lapic_accept_irq(&a, &ctr, 0x70, false), CVM_DISP_DISCARDED);
}

/* EOI of a level-triggered vector is broadcast unless SVR suppresses it. */
static void test_eoi_broadcast(void **state)
{
	struct cvm_lapic a;

	mk(&a, 0, true);
	enable(&a);
	cvm_lapic_accept_irq(&a, &ctr, 0x61, true);
	assert_int_equal(cvm_lapic_ack(&a, &ctr), 0x61);
	assert_int_equal(wrm(&a, CVM_APIC_EOI, 0), CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_EOI);
	assert_int_equal(fx.eoi_vector, 0x61);
	assert_int_equal(ctr.n[CVM_CTR_EOI_BROADCAST], 1);
	wrm(&a, CVM_APIC_SVR, 0x11ff);
	cvm_lapic_accept_irq(&a, &ctr, 0x61, true);
	cvm_lapic_ack(&a, &ctr);
	wrm(&a, CVM_APIC_EOI, 0);
	assert_int_equal(fx.flags & CVM_FX_EOI, 0);
}

/* ICR in xAPIC form: every field lands in the message. */
static void test_icr_xapic(void **state)
{
	struct cvm_lapic a;

	mk(&a, 4, false);
	wr(&a, CVM_APIC_ICR_HI, 0x0f000000);
	assert_int_equal(wr(&a, CVM_APIC_ICR_LO, 0x0000c8aa | (2u << 18)), CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_IPI);
	assert_int_equal(fx.ipi.dest, 0x0f);
	assert_int_equal(fx.ipi.vector, 0xaa);
	assert_int_equal(fx.ipi.mode, CVM_DM_FIXED);
	assert_int_equal(fx.ipi.shorthand, CVM_SH_ALL);
	assert_int_equal(fx.ipi.src, 4);
	assert_int_equal(fx.ipi.flags, CVM_MSG_LOGICAL | CVM_MSG_LEVEL | CVM_MSG_ASSERT);
	assert_int_equal(rd(&a, CVM_APIC_ICR_LO), 0x0008c8aa); /* delivery status reads idle */
	/* INIT level de-assert has no ASSERT flag; INIT assert and edge INIT have it */
	wr(&a, CVM_APIC_ICR_LO, 0x00008500);
	assert_int_equal(fx.ipi.mode, CVM_DM_INIT);
	assert_int_equal(fx.ipi.flags & CVM_MSG_ASSERT, 0);
	wr(&a, CVM_APIC_ICR_LO, 0x0000c500);
	assert_true(fx.ipi.flags & CVM_MSG_ASSERT);
	wr(&a, CVM_APIC_ICR_LO, 0x00000500);
	assert_true(fx.ipi.flags & CVM_MSG_ASSERT);
	wr(&a, CVM_APIC_ICR_LO, 0x00000612);
	assert_int_equal(fx.ipi.mode, CVM_DM_STARTUP);
	assert_int_equal(fx.ipi.vector, 0x12);
}

/* x2APIC SELF_IPI: a fixed, edge self message. */
static void test_self_ipi(void **state)
{
	struct cvm_lapic a;

	mk(&a, 9, true);
	assert_int_equal(wrm(&a, CVM_APIC_SELF_IPI, 0x77), CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_IPI);
	assert_int_equal(fx.ipi.shorthand, CVM_SH_SELF);
	assert_int_equal(fx.ipi.vector, 0x77);
	assert_int_equal(fx.ipi.mode, CVM_DM_FIXED);
	assert_int_equal(fx.ipi.src, 9);
}

/* LINT0/LINT1 and the other local sources, through their LVTs. */
static void test_lint_lvt(void **state)
{
	struct cvm_lapic a;

	mk(&a, 0, false);
	enable(&a);
	/* masked: nothing */
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 0, true, &fx), CVM_DISP_DISCARDED);
	cvm_lapic_lint(&a, &ctr, 0, false, &fx);
	/* LINT0 ExtINT, LINT1 NMI: local messages on the rising edge */
	wr(&a, CVM_APIC_LVT_LINT0, 0x700);
	wr(&a, CVM_APIC_LVT_LINT1, 0x400);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 0, true, &fx), CVM_DISP_ACCEPTED);
	assert_true(fx.flags & CVM_FX_LOCAL);
	assert_int_equal(fx.local.mode, CVM_DM_EXTINT);
	assert_int_equal(fx.local.shorthand, CVM_SH_SELF);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 0, true, &fx), CVM_DISP_MERGED);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 1, true, &fx), CVM_DISP_ACCEPTED);
	assert_int_equal(fx.local.mode, CVM_DM_NMI);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 2, true, &fx), CVM_DISP_DISCARDED);
	/* level-triggered fixed LINT: remote IRR until EOI, then again while asserted */
	cvm_lapic_lint(&a, &ctr, 1, false, &fx);
	wr(&a, CVM_APIC_LVT_LINT1, 0x8000 | 0x55);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 1, true, &fx), CVM_DISP_ACCEPTED);
	assert_true(rd(&a, CVM_APIC_LVT_LINT1) & CVM_LVT_REMOTE_IRR);
	assert_int_equal(cvm_lapic_lint(&a, &ctr, 1, true, &fx), CVM_DISP_MERGED);
	assert_int_equal(cvm_lapic_ack(&a, &ctr), 0x55);
	assert_int_equal(cvm_lapic_eoi(&a, &ctr, &fx), 0x55);
	assert_true(rd(&a, CVM_APIC_LVT_LINT1) & CVM_LVT_REMOTE_IRR); /* re-fired */
	assert_int_equal(cvm_lapic_pending(&a), 0x55);
	cvm_lapic_lint(&a, &ctr, 1, false, &fx);
	assert_int_equal(cvm_lapic_ack(&a, &ctr), 0x55);
	assert_int_equal(cvm_lapic_eoi(&a, &ctr, &fx), 0x55);
	assert_false(rd(&a, CVM_APIC_LVT_LINT1) & CVM_LVT_REMOTE_IRR);
	/* thermal as SMI, perf fixed, CMCI masked, error and timer fixed */
	wr(&a, CVM_APIC_LVT_THERMAL, 0x200);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_THERMAL, &fx), CVM_DISP_ACCEPTED);
	assert_int_equal(fx.local.mode, CVM_DM_SMI);
	wr(&a, CVM_APIC_LVT_PERF, 0x66);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_PERF, &fx), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lapic_pending(&a), 0x66);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_CMCI, &fx), CVM_DISP_DISCARDED);
	wr(&a, CVM_APIC_LVT_ERROR, 0x67);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_ERROR, &fx), CVM_DISP_ACCEPTED);
	wr(&a, CVM_APIC_LVT_TIMER, 0x68);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_TIMER, &fx), CVM_DISP_ACCEPTED);
	assert_int_equal(cvm_lapic_pending(&a), 0x68);
	wr(&a, CVM_APIC_LVT_CMCI, 0x300); /* reserved delivery mode */
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_LVT_CMCI, &fx), CVM_DISP_DISCARDED);
	assert_int_equal(cvm_lapic_lvt_fire(&a, &ctr, CVM_NR_LVT, &fx), CVM_DISP_DISCARDED);
	/* x2APIC: local messages carry the 32-bit ID */
	mk(&a, 0x777, true);
	enable(&a);
	wrm(&a, CVM_APIC_LVT_LINT1, 0x400);
	cvm_lapic_lint(&a, &ctr, 1, true, &fx);
	assert_int_equal(fx.local.dest, 0x777);
	assert_true(fx.local.flags & CVM_MSG_X2APIC);
}

static void test_divisor(void **state)
{
	const unsigned int want[16] = {2, 4, 8, 16, 2, 4, 8, 16, 32, 64, 128, 1, 32, 64, 128, 1};

	for (uint32_t v = 0; v < 16; v++)
		assert_int_equal(cvm_lapic_divisor(v), want[v]);
}

/* One-shot: count, current count, expiry once, restart, stop with 0. */
static void test_timer_oneshot(void **state)
{
	struct cvm_lapic a;
	const uint64_t t0 = 1000000;

	mk(&a, 0, false);
	enable(&a);
	wr(&a, CVM_APIC_LVT_TIMER, 0xec);
	wr(&a, CVM_APIC_TDCR, 0x1); /* divide by 4 */
	assert_int_equal(cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 1000, t0, &fx),
	                 CVM_APIC_OK);
	assert_true(fx.flags & CVM_FX_TIMER);
	assert_true(cvm_lapic_next_deadline(&a) == t0 + 4000);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 401), 900);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 3999) == t0 + 4000);
	assert_int_equal(cvm_lapic_pending(&a), -1);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 4000) == CVM_NO_DEADLINE);
	assert_int_equal(cvm_lapic_pending(&a), 0xec);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 5000), 0);
	assert_int_equal(ctr.n[CVM_CTR_TIMER_FIRED], 1);
	/* TMCCT through the register file */
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 10, t0, &fx);
	uint32_t v;
	cvm_lapic_mmio_read(&a, CVM_APIC_TMCCT, t0 + 8, &v);
	assert_int_equal(v, 8);
	/* writing 0 stops it */
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 0, t0, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
	assert_int_equal(cvm_lapic_current_count(&a, t0), 0);
	/* masked: counts and ends, but no interrupt */
	cvm_lapic_ack(&a, &ctr);
	wr(&a, CVM_APIC_LVT_TIMER, 0x100ec);
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 5, t0, &fx);
	cvm_lapic_timer_expire(&a, &ctr, t0 + 100);
	assert_int_equal(cvm_lapic_pending(&a), -1);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
}

/* Periodic: reload, current count across periods, missed ticks folded; divide change rebases. */
static void test_timer_periodic(void **state)
{
	struct cvm_lapic a;
	const uint64_t t0 = 500;

	mk(&a, 0, true);
	enable(&a);
	wrm(&a, CVM_APIC_TDCR, 0xb); /* divide by 1 */
	wrm(&a, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_PERIODIC | 0xd0);
	cvm_lapic_msr_write(&a, &ctr, MSR(CVM_APIC_TMICT), 100, t0, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == t0 + 100);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 30), 70);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 130), 70);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 100) == t0 + 200);
	assert_int_equal(cvm_lapic_pending(&a), 0xd0);
	/* late by 3.5 periods: one interrupt, 3 missed, next deadline on the grid */
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 550) == t0 + 600);
	assert_int_equal(ctr.n[CVM_CTR_TIMER_MISSED], 3);
	assert_int_equal(ctr.n[CVM_CTR_TIMER_FIRED], 2);
	/* divide change at t0+550 (count 50): the rest counts at the new rate */
	cvm_lapic_msr_write(&a, &ctr, MSR(CVM_APIC_TDCR), 0x0, t0 + 550, &fx); /* by 2 */
	assert_true(fx.flags & CVM_FX_TIMER);
	assert_true(cvm_lapic_next_deadline(&a) == t0 + 650);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 650), 100); /* reloaded */
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 650) == t0 + 850);
	/* divide change while stopped: just stored */
	cvm_lapic_msr_write(&a, &ctr, MSR(CVM_APIC_TMICT), 0, t0, &fx);
	cvm_lapic_msr_write(&a, &ctr, MSR(CVM_APIC_TDCR), 0x3, t0, &fx);
	assert_int_equal(fx.flags, 0);
	assert_true(rdm(&a, CVM_APIC_TDCR) == 3);
}

/*
 * A periodic timer faster than min_period_ns (a hostile guest's TMICT 1, divide
 * by 1: a 1 ns period) expires at most once per min_period_ns, the ticks in
 * between folded and counted; the count still runs at the programmed rate.
 * Without the floor every expiry would be due again at once: corevm's vCPU
 * thread re-armed its host timer for 1 ns ahead forever and the guest never ran.
 */
static void test_timer_periodic_min_period(void **state)
{
	struct cvm_lapic a;
	struct cvm_lapic_config cfg = {.x2apic = true, .bsp = true, .min_period_ns = 200000};
	const uint64_t t0 = 1000;
	uint64_t next;

	cvm_lapic_power_on(&a, &cfg);
	memset(&ctr, 0, sizeof(ctr));
	enable(&a);
	wr(&a, CVM_APIC_TDCR, 0xb); /* divide by 1 */
	wr(&a, CVM_APIC_LVT_TIMER, CVM_LVT_MASKED | CVM_LVT_TIMER_PERIODIC | 0xd0);
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 1, t0, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == t0 + 1); /* the first period as programmed */
	next = cvm_lapic_timer_expire(&a, &ctr, t0 + 5);
	assert_true(next >= t0 + 5 + 200000 && next <= t0 + 5 + 200000 + 1); /* on the 1 ns grid */
	assert_int_equal(ctr.n[CVM_CTR_TIMER_FIRED], 1);
	assert_true(ctr.n[CVM_CTR_TIMER_MISSED] == next - (t0 + 1) - 1);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, next - 1) == next); /* early: nothing */
	assert_int_equal(ctr.n[CVM_CTR_TIMER_FIRED], 1);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, next) >= next + 200000);
	assert_int_equal(ctr.n[CVM_CTR_TIMER_FIRED], 2);
	/* A period longer than the floor is not touched; the count runs as programmed. */
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 300000, t0, &fx);
	assert_int_equal(cvm_lapic_current_count(&a, t0 + 100000), 200000);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, t0 + 300000) == t0 + 600000);
}

/* TSC-deadline: arming by MSR, conversion with tsc_khz, firing clears it, mode switches disarm. */
static void test_timer_tsc_deadline(void **state)
{
	struct cvm_lapic a;
	uint32_t v;

	mk(&a, 0, false); /* 2 GHz guest TSC: 2 ticks per ns */
	enable(&a);
	/* ignored outside TSC-deadline mode */
	cvm_lapic_set_tsc_deadline(&a, 5000, 0, 0, &fx);
	assert_int_equal(fx.flags, 0);
	assert_true(cvm_lapic_get_tsc_deadline(&a) == 0);
	wr(&a, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_TSCDL | 0xe1);
	assert_int_equal(cvm_lapic_timer_mode(&a), CVM_TIMER_TSCDL);
	/* TMICT is ignored in this mode */
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 100, 0, &fx);
	assert_int_equal(rd(&a, CVM_APIC_TMICT), 0);
	cvm_lapic_set_tsc_deadline(&a, 1000000 + 4000, 7000, 1000000, &fx);
	assert_true(fx.flags & CVM_FX_TIMER);
	assert_true(cvm_lapic_next_deadline(&a) == 7000 + 2000);
	assert_true(cvm_lapic_get_tsc_deadline(&a) == 1004000);
	cvm_lapic_mmio_read(&a, CVM_APIC_TMCCT, 8000, &v);
	assert_int_equal(v, 0);
	assert_true(cvm_lapic_timer_expire(&a, &ctr, 9000) == CVM_NO_DEADLINE);
	assert_int_equal(cvm_lapic_pending(&a), 0xe1);
	assert_true(cvm_lapic_get_tsc_deadline(&a) == 0);
	/* in the past: fires at once; 0 disarms */
	cvm_lapic_set_tsc_deadline(&a, 10, 9500, 1000000, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == 9500);
	cvm_lapic_set_tsc_deadline(&a, 0, 9500, 1000000, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
	/* switching mode disarms */
	cvm_lapic_set_tsc_deadline(&a, 2000000, 9500, 1000000, &fx);
	assert_true(cvm_lapic_next_deadline(&a) != CVM_NO_DEADLINE);
	wr(&a, CVM_APIC_LVT_TIMER, 0xe1);
	assert_true(fx.flags & CVM_FX_TIMER);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
	/* without a TSC frequency the mode cannot arm */
	a.tsc_khz = 0;
	wr(&a, CVM_APIC_LVT_TIMER, CVM_LVT_TIMER_TSCDL | 0xe1);
	cvm_lapic_set_tsc_deadline(&a, 2000000, 9500, 1000000, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
	/* the reserved mode 3 never fires */
	wr(&a, CVM_APIC_LVT_TIMER, 0x60000 | 0xe1);
	cvm_lapic_mmio_write(&a, &ctr, CVM_APIC_TMICT, 100, 0, &fx);
	assert_true(cvm_lapic_next_deadline(&a) == CVM_NO_DEADLINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_power_on_values),
	        cmocka_unit_test(test_xapic_registers),
	        cmocka_unit_test(test_x2apic_registers),
	        cmocka_unit_test(test_apic_base),
	        cmocka_unit_test(test_init_reset),
	        cmocka_unit_test(test_priorities),
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_eoi_broadcast),
	        cmocka_unit_test(test_icr_xapic),
	        cmocka_unit_test(test_self_ipi),
	        cmocka_unit_test(test_lint_lvt),
	        cmocka_unit_test(test_divisor),
	        cmocka_unit_test(test_timer_oneshot),
	        cmocka_unit_test(test_timer_periodic),
	        cmocka_unit_test(test_timer_periodic_min_period),
	        cmocka_unit_test(test_timer_tsc_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
