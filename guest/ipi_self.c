/*
 * Self-IPI test guest: every vCPU (the BSP, then each AP in its callback) sends
 * itself fixed IPIs and checks that each is delivered exactly once:
 *   1. with interrupts off, two self-IPIs of vector 0x40 (x2APIC: through the
 *      SELF IPI register; xAPIC: the ICR's self shorthand): IRR shows it
 *      pending, no handler runs; once interrupts are on it is delivered exactly
 *      once (the second IPI found the IRR bit set and coalesced);
 *   2. vector 0x41 through the ICR addressed to the vCPU's own APIC ID
 *      (physical destination, no shorthand): delivered exactly once.
 * Command line: apic=xapic|x2apic (default xapic; the APs follow the BSP).
 *
 * Reports (ucall):
 *   each vCPU once, from itself: REPORT stage 100, args[1] = APIC ID,
 *     args[2] = deliveries of 0x40 (1), args[3] = deliveries of 0x41 (1)
 *   the BSP last: REPORT stage 101, args[1] = vCPUs checked (NB_CPUS),
 *     args[2] = APIC mode (1 xAPIC, 2 x2APIC); then DONE.
 * Serial: "ipi_self: PASS: <n> vCPUs, <mode>".
 * Fails (ASSERT) when a self-IPI is lost, delivered twice or delivered while
 * interrupts are off.
 */
#include "guest/lib/kit.h"

#define VEC_SHORTHAND 0x40
#define VEC_PHYSICAL  0x41

static volatile uint32_t hits[2][256]; /* [vector - 0x40][APIC ID] */
static volatile uint32_t checked;

static void on_ipi(struct guest_exception_frame *f)
{
	uint32_t id = guest_apic_id();
	if (id < 256)
		atomic_fetch_add32(&hits[f->vector - VEC_SHORTHAND][id], 1);
	guest_apic_eoi();
}

static void check_self(void)
{
	uint32_t id = guest_apic_id();
	GUEST_ASSERT_MSG(id < 256, "ipi_self: APIC ID %u", id);

	GUEST_ASSERT(guest_apic_self_ipi(VEC_SHORTHAND));
	GUEST_ASSERT(guest_apic_self_ipi(VEC_SHORTHAND));
	GUEST_ASSERT_MSG(guest_apic_irr(VEC_SHORTHAND), "ipi_self: 0x%x not pending in IRR on %u",
	                 VEC_SHORTHAND, id);
	GUEST_ASSERT_EQ(hits[0][id], 0);
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&hits[0][id], 1, KIT_TSC_TIMEOUT_STEP),
	                 "ipi_self: self-IPI 0x%x never delivered on %u", VEC_SHORTHAND, id);

	GUEST_ASSERT(guest_apic_send_ipi(id, APIC_DM_FIXED | APIC_LEVEL_ASSERT | VEC_PHYSICAL));
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&hits[1][id], 1, KIT_TSC_TIMEOUT_STEP),
	                 "ipi_self: IPI 0x%x to own APIC ID %u never delivered", VEC_PHYSICAL, id);

	/* A second delivery of either would show now. */
	guest_irq_window(KIT_TSC_WINDOW);
	GUEST_ASSERT_MSG(hits[0][id] == 1 && hits[1][id] == 1,
	                 "ipi_self: vCPU %u got 0x40 %u times, 0x41 %u times", id, hits[0][id],
	                 hits[1][id]);
	GUEST_ASSERT(!guest_apic_irr(VEC_SHORTHAND) && !guest_apic_isr(VEC_SHORTHAND));
	GUEST_REPORT(CVM_STAGE_USER, id, hits[0][id], hits[1][id]);
	atomic_fetch_add32(&checked, 1);
}

static void ap_main(unsigned int index, uint32_t apic_id)
{
	check_self();
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	guest_apic_set_mode(mode);
	guest_set_irq_handler(VEC_SHORTHAND, on_ipi);
	guest_set_irq_handler(VEC_PHYSICAL, on_ipi);
	check_self();
	unsigned int n = guest_smp_boot(ap_main);
	GUEST_ASSERT_MSG(guest_smp_wait_finished(n - 1, KIT_TSC_TIMEOUT_LONG),
	                 "ipi_self: %u of %u APs finished", guest_smp_aps_finished(), n - 1);
	GUEST_ASSERT_EQ(checked, n);
	GUEST_REPORT(CVM_STAGE_USER + 1, n, mode, 0);
	guest_printf("ipi_self: PASS: %u vCPUs, %s\n", n, guest_apic_mode_name(mode));
	GUEST_DONE();
}
