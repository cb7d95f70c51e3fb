/*
 * Lowest-priority delivery test guest: IPIs with delivery mode "lowest
 * priority" (vector 0x5a) to a logical destination naming several APs must each
 * reach exactly one of them. Which one is the VMM's choice (arbitration,
 * vector hashing, round robin...): the guest does not check it, only reports
 * the spread. xAPIC flat model (logical ID = 1 << APIC ID), all APs at TPR 0,
 * so 2 to 8 vCPUs; the destination names every AP.
 * The BSP sends 16 IPIs one at a time, each time waiting (bounded) until the
 * total number of deliveries grew by one; at the end each AP takes a physical
 * barrier IPI (0x5b), after which the total must be exactly 16, all at APs.
 *
 * Reports (ucall):
 *   each AP once, from itself: REPORT stage 100, args[1] = APIC ID,
 *     args[2] = lowest-priority IPIs it received (any number, sum 16)
 *   the BSP last: REPORT stage 101, args[1] = IPIs sent (16), args[2] =
 *     deliveries (16), args[3] = APs that received at least one; then DONE.
 * Serial: "ipi_lowpri: PASS: 16 IPIs to <n> APs, each delivered once (<r>
 *   APs received some)".
 */
#include "guest/lib/kit.h"

#define VEC     0x5a
#define BARRIER 0x5b
#define IPIS    16

static volatile uint32_t hits[256], barrier_hits[256], total, ready;

static void on_ipi(struct guest_exception_frame *f)
{
	uint32_t id = guest_apic_id();
	if (f->vector == VEC) {
		atomic_fetch_add32(&total, 1);
		if (id < 256)
			atomic_fetch_add32(&hits[id], 1);
	} else if (id < 256) {
		atomic_fetch_add32(&barrier_hits[id], 1);
	}
	guest_apic_eoi();
}

static void ap_main(unsigned int index, uint32_t id)
{
	guest_apic_set_logical(APIC_DFR_FLAT, (uint8_t)(1u << id));
	guest_apic_set_tpr(0);
	atomic_fetch_add32(&ready, 1);
	GUEST_ASSERT(guest_wait_ge_hlt(&barrier_hits[id], 1, KIT_TSC_TIMEOUT_LONG));
	GUEST_REPORT(CVM_STAGE_USER, id, hits[id], index);
}

void guest_main(void)
{
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2 && n <= 8, "ipi_lowpri: needs 2 to 8 vCPUs, not %u", n);
	guest_apic_set_mode(GUEST_APIC_XAPIC);
	uint32_t bsp_id = guest_apic_id();
	guest_apic_set_logical(APIC_DFR_FLAT, (uint8_t)(1u << bsp_id));
	guest_set_irq_handler(VEC, on_ipi);
	guest_set_irq_handler(BARRIER, on_ipi);
	guest_smp_boot(ap_main);
	GUEST_ASSERT(guest_wait_ge(&ready, n - 1, KIT_TSC_TIMEOUT_LONG));

	uint32_t dest = 0;
	for (unsigned int i = 0; i < n - 1; i++)
		dest |= 1u << guest_smp_ap_id(i);
	for (uint32_t i = 1; i <= IPIS; i++) {
		GUEST_ASSERT(guest_apic_send_ipi(dest, APIC_DEST_LOGICAL | APIC_DM_LOWEST |
		                                               APIC_LEVEL_ASSERT | VEC));
		GUEST_ASSERT_MSG(guest_wait_ge(&total, i, KIT_TSC_TIMEOUT_STEP),
		                 "ipi_lowpri: IPI %u to logical 0x%x reached nobody", i, dest);
	}
	guest_smp_release_aps(n - 1, BARRIER);
	guest_irq_window(KIT_TSC_WINDOW);
	GUEST_ASSERT_MSG(total == IPIS, "ipi_lowpri: %u deliveries of %u IPIs", total, IPIS);
	GUEST_ASSERT_MSG(hits[bsp_id] == 0, "ipi_lowpri: the BSP, not addressed, got %u",
	                 hits[bsp_id]);
	uint32_t receivers = 0, sum = 0;
	for (unsigned int id = 0; id < 256; id++) {
		sum += hits[id];
		receivers += hits[id] != 0;
	}
	GUEST_ASSERT_EQ(sum, IPIS);
	GUEST_REPORT(CVM_STAGE_USER + 1, IPIS, total, receivers);
	guest_printf("ipi_lowpri: PASS: %u IPIs to %u APs, each delivered once (%u APs received "
	             "some)\n",
	             IPIS, n - 1, receivers);
	GUEST_DONE();
}
