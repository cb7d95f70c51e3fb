/*
 * Destination-shorthand test guest: fixed IPIs to "all including self" and
 * "all excluding self". Needs at least 2 vCPUs.
 *   1. the BSP sends vector 0x52 to all including self: every vCPU, the BSP
 *      too, gets it exactly once;
 *   2. the BSP sends vector 0x53 to all excluding self: every AP gets it once,
 *      the BSP not at all;
 *   3. AP index 0 sends vector 0x54 to all excluding self: the BSP and every
 *      other AP get it once, the sender not at all.
 * APs wait asleep in HLT; the BSP waits for its own IPIs in HLT and for the
 * APs' counters by spinning (bounded). At the end each AP takes one more
 * physical IPI (0x55) as a barrier, then the exact counts are checked.
 * Command line: apic=xapic|x2apic (default xapic).
 *
 * Reports (ucall):
 *   each vCPU once, from itself (APs when their waits end, the BSP at the
 *     end): REPORT stage 100, args[1] = APIC ID, args[2] = (count of 0x52) |
 *     (count of 0x53) << 8 | (count of 0x54) << 16, args[3] = 1 for the AP
 *     that sent step 3
 *   the BSP last: REPORT stage 101, args[1] = NB_CPUS, args[2] = sender's
 *     APIC ID; then DONE.
 * Serial: "ipi_shorthand: PASS: <n> vCPUs (<apic>)".
 */
#include "guest/lib/kit.h"

#define VEC_ALL     0x52
#define VEC_OTHERS  0x53
#define VEC_FROM_AP 0x54
#define VEC_BARRIER 0x55

static volatile uint32_t hits[4][256]; /* [vector - 0x52][APIC ID] */
static volatile uint32_t go_step3;
static uint32_t bsp_id, sender_id;

static void on_ipi(struct guest_exception_frame *f)
{
	uint32_t id = guest_apic_id();
	if (id < 256)
		atomic_fetch_add32(&hits[f->vector - VEC_ALL][id], 1);
	guest_apic_eoi();
}

static uint32_t packed(uint32_t id)
{
	return hits[0][id] | hits[1][id] << 8 | hits[2][id] << 16;
}

static void ap_main(unsigned int index, uint32_t id)
{
	GUEST_ASSERT_MSG(id < 256, "ipi_shorthand: APIC ID %u", id);
	GUEST_ASSERT(guest_wait_ge_hlt(&hits[1][id], 1, KIT_TSC_TIMEOUT_LONG));
	if (index == 0) {
		GUEST_ASSERT(guest_wait_ge_hlt(&go_step3, 1, KIT_TSC_TIMEOUT_LONG));
		GUEST_ASSERT(guest_apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_FIXED |
		                                            APIC_LEVEL_ASSERT | VEC_FROM_AP));
	} else {
		GUEST_ASSERT(guest_wait_ge_hlt(&hits[2][id], 1, KIT_TSC_TIMEOUT_LONG));
	}
	GUEST_ASSERT(guest_wait_ge_hlt(&hits[3][id], 1, KIT_TSC_TIMEOUT_LONG));
	GUEST_REPORT(CVM_STAGE_USER, id, packed(id), index == 0);
}

/* Spins until every AP but skip_id has vector v counted at least once. */
static void wait_aps(unsigned int n, uint32_t v, uint32_t skip_id)
{
	for (unsigned int i = 0; i < n - 1; i++) {
		uint32_t id = guest_smp_ap_id(i);
		if (id == skip_id)
			continue;
		GUEST_ASSERT_MSG(guest_wait_ge(&hits[v - VEC_ALL][id], 1, KIT_TSC_TIMEOUT_STEP),
		                 "ipi_shorthand: APIC ID %u never got vector 0x%x", id, v);
	}
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	guest_apic_set_mode(mode);
	bsp_id = guest_apic_id();
	for (uint32_t v = VEC_ALL; v <= VEC_BARRIER; v++)
		guest_set_irq_handler(v, on_ipi);
	unsigned int n = guest_smp_boot(ap_main);
	GUEST_ASSERT_MSG(n >= 2, "ipi_shorthand: needs at least 2 vCPUs");
	sender_id = guest_smp_ap_id(0);

	GUEST_ASSERT(guest_apic_send_ipi(0, APIC_DEST_ALL | APIC_DM_FIXED | APIC_LEVEL_ASSERT |
	                                            VEC_ALL));
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&hits[0][bsp_id], 1, KIT_TSC_TIMEOUT_STEP),
	                 "ipi_shorthand: the BSP never got its own broadcast");
	wait_aps(n, VEC_ALL, 256);

	GUEST_ASSERT(guest_apic_send_ipi(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_FIXED |
	                                            APIC_LEVEL_ASSERT | VEC_OTHERS));
	wait_aps(n, VEC_OTHERS, 256);

	go_step3 = 1;
	GUEST_ASSERT(guest_apic_send_ipi(sender_id,
	                                 APIC_DM_FIXED | APIC_LEVEL_ASSERT | KIT_WAKE_VECTOR));
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&hits[2][bsp_id], 1, KIT_TSC_TIMEOUT_STEP),
	                 "ipi_shorthand: the BSP never got the AP's broadcast");
	wait_aps(n, VEC_FROM_AP, sender_id);

	guest_smp_release_aps(n - 1, VEC_BARRIER);
	guest_irq_window(KIT_TSC_WINDOW);
	for (uint32_t id = 0; id < 256; id++) {
		bool present = id < n;
		uint32_t want = !present          ? 0
		                : id == bsp_id    ? 0x010001u
		                : id == sender_id ? 0x000101u
		                                  : 0x010101u;
		GUEST_ASSERT_MSG(packed(id) == want,
		                 "ipi_shorthand: APIC ID %u counts 0x%06x, want 0x%06x", id,
		                 packed(id), want);
	}
	GUEST_REPORT(CVM_STAGE_USER, bsp_id, packed(bsp_id), 0);
	GUEST_REPORT(CVM_STAGE_USER + 1, n, sender_id, 0);
	guest_printf("ipi_shorthand: PASS: %u vCPUs (%s)\n", n, guest_apic_mode_name(mode));
	GUEST_DONE();
}
