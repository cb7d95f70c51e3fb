/*
 * Fixed-IPI test guest: the BSP sends a fixed IPI (vector 0x50, physical
 * destination) to each AP in turn, three rounds, waiting after each until that
 * AP's handler counted it; each AP, having received its three, sends one fixed
 * IPI back to the BSP on a vector of its own (0x80 + AP index: IPIs of one
 * vector that find it still pending in IRR coalesce, architecturally). APs
 * wait for their IPIs asleep in HLT. Needs 2 to 113 vCPUs.
 * Command line: apic=xapic|x2apic (default xapic).
 *
 * Reports (ucall):
 *   each AP once, from itself: REPORT stage 100, args[1] = APIC ID,
 *     args[2] = IPIs received (3), args[3] = AP index
 *   the BSP last: REPORT stage 101, args[1] = APs (NB_CPUS - 1), args[2] =
 *     IPIs the BSP received (NB_CPUS - 1), args[3] = rounds (3); then DONE.
 * Serial: "ipi_fixed: PASS: <n> APs x 3 IPIs, <n> replies (<apic>)".
 * Fails (ASSERT) when an IPI is lost (bounded wait), arrives at another vCPU,
 * or arrives twice.
 */
#include "guest/lib/kit.h"

#define VEC_TO_AP  0x50
#define VEC_TO_BSP 0x80 /* + AP index */
#define MAX_APS    (KIT_WAKE_VECTOR - VEC_TO_BSP)
#define ROUNDS     3

static volatile uint32_t got[256]; /* VEC_TO_AP per APIC ID */
static volatile uint32_t replies, reply_from[MAX_APS];
static uint32_t bsp_id;

static void on_ap_ipi(struct guest_exception_frame *f)
{
	(void)f;
	uint32_t id = guest_apic_id();
	if (id < 256)
		atomic_fetch_add32(&got[id], 1);
	guest_apic_eoi();
}

static void on_reply(struct guest_exception_frame *f)
{
	reply_from[f->vector - VEC_TO_BSP]++;
	atomic_fetch_add32(&replies, 1);
	guest_apic_eoi();
}

static void ap_main(unsigned int index, uint32_t id)
{
	GUEST_ASSERT_MSG(id < 256, "ipi_fixed: APIC ID %u", id);
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&got[id], ROUNDS, KIT_TSC_TIMEOUT_LONG),
	                 "ipi_fixed: AP %u got %u of %u IPIs", id, got[id], ROUNDS);
	GUEST_REPORT(CVM_STAGE_USER, id, got[id], index);
	GUEST_ASSERT(guest_apic_send_ipi(bsp_id,
	                                 APIC_DM_FIXED | APIC_LEVEL_ASSERT | (VEC_TO_BSP + index)));
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	guest_apic_set_mode(mode);
	bsp_id = guest_apic_id();
	guest_set_irq_handler(VEC_TO_AP, on_ap_ipi);
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2 && n - 1 <= MAX_APS, "ipi_fixed: needs 2 to %u vCPUs, not %u",
	                 MAX_APS + 1, n);
	for (unsigned int i = 0; i < n - 1; i++)
		guest_set_irq_handler(VEC_TO_BSP + i, on_reply);
	guest_smp_boot(ap_main);

	for (uint32_t r = 1; r <= ROUNDS; r++) {
		for (unsigned int i = 0; i < n - 1; i++) {
			uint32_t id = guest_smp_ap_id(i);
			GUEST_ASSERT(guest_apic_send_ipi(id, APIC_DM_FIXED | APIC_LEVEL_ASSERT |
			                                             VEC_TO_AP));
			GUEST_ASSERT_MSG(guest_wait_ge(&got[id], r, KIT_TSC_TIMEOUT_STEP),
			                 "ipi_fixed: round %u: IPI to APIC ID %u lost", r, id);
		}
	}
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&replies, n - 1, KIT_TSC_TIMEOUT_LONG),
	                 "ipi_fixed: %u of %u replies", replies, n - 1);
	GUEST_ASSERT_MSG(guest_smp_wait_finished(n - 1, KIT_TSC_TIMEOUT_LONG),
	                 "ipi_fixed: %u of %u APs finished", guest_smp_aps_finished(), n - 1);
	guest_irq_window(KIT_TSC_WINDOW);
	for (unsigned int i = 0; i < 256; i++) {
		uint32_t want = (i != bsp_id && i < n) ? ROUNDS : 0;
		GUEST_ASSERT_MSG(got[i] == want, "ipi_fixed: APIC ID %u got %u IPIs, want %u", i,
		                 got[i], want);
	}
	GUEST_ASSERT_EQ(replies, n - 1);
	for (unsigned int i = 0; i < n - 1; i++)
		GUEST_ASSERT_MSG(reply_from[i] == 1, "ipi_fixed: AP %u replied %u times", i,
		                 reply_from[i]);
	GUEST_REPORT(CVM_STAGE_USER + 1, n - 1, replies, ROUNDS);
	guest_printf("ipi_fixed: PASS: %u APs x %u IPIs, %u replies (%s)\n", n - 1, ROUNDS, replies,
	             guest_apic_mode_name(mode));
	GUEST_DONE();
}
