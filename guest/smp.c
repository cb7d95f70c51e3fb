/*
 * SMP bring-up test guest: starts every AP with INIT-SIPI-SIPI and checks that
 * each comes up exactly once with a distinct APIC ID.
 *
 * Command line (optional): mode=broadcast|targeted (default broadcast: one
 * INIT-SIPI-SIPI to all-excluding-self; targeted: one per APIC ID 0..N-1 other
 * than the BSP's, which assumes contiguous IDs as QEMU and corevm assign them)
 * and apic=xapic|x2apic (default xapic; the BSP switches first and each AP
 * switches to the same mode before it reports).
 *
 * Reports (ucall):
 *   each AP once: REPORT stage CVM_STAGE_AP_ONLINE, args[1] = APIC ID,
 *                 args[2] = AP index, args[3] = APIC mode (1 xAPIC, 2 x2APIC)
 *   the BSP last: REPORT stage SMP_STAGE_SUMMARY (CVM_STAGE_USER = 100),
 *                 args[1] = APs online, args[2] = BSP APIC ID, args[3] = NB_CPUS
 *   then DONE.
 * Serial: "smp: AP <index> online, APIC ID <id>" per AP, then
 *   "smp: PASS: <n> APs online (<mode>, <apic>), BSP APIC ID <id>".
 * Fails (ASSERT) when fewer or more than NB_CPUS - 1 APs arrive, an APIC ID
 * repeats or equals the BSP's, an AP runs in another APIC mode, or (targeted)
 * an AP reports another ID than the one it was started with.
 */
#include "guest/lib/kit.h"

#define SMP_STAGE_SUMMARY CVM_STAGE_USER

static volatile uint32_t id_count[256];
static volatile uint32_t id_by_index[KIT_MAX_APS]; /* APIC ID + 1; 0 = not yet */
static volatile uint32_t wrong_mode;
static enum guest_apic_mode want_mode;

static void ap_main(unsigned int index, uint32_t apic_id)
{
	enum guest_apic_mode mode = guest_apic_mode();
	GUEST_REPORT(CVM_STAGE_AP_ONLINE, apic_id, index, mode);
	if (mode != want_mode)
		atomic_fetch_add32(&wrong_mode, 1);
	if (apic_id < ARRAY_SIZE(id_count))
		atomic_fetch_add32(&id_count[apic_id], 1);
	atomic_store32(&id_by_index[index], apic_id + 1);
	guest_printf("smp: AP %u online, APIC ID %u\n", index, apic_id);
}

static void start_targeted(unsigned int ncpus, uint32_t bsp_id)
{
	unsigned int index = 0;
	for (uint32_t id = 0; id < ncpus; id++) {
		if (id == bsp_id)
			continue;
		GUEST_ASSERT_MSG(guest_smp_start_one(id, KIT_TSC_TIMEOUT_LONG),
		                 "smp: AP with APIC ID %u did not come up", id);
		uint64_t t0 = rdtsc();
		while (!atomic_load32(&id_by_index[index]) && rdtsc() - t0 < KIT_TSC_TIMEOUT_LONG)
			cpu_relax();
		GUEST_ASSERT_MSG(id_by_index[index] == id + 1,
		                 "smp: AP started as APIC ID %u reports APIC ID %u", id,
		                 id_by_index[index] - 1);
		index++;
	}
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	bool targeted = kit_cmdline_is(cmdline, "mode", "targeted");
	want_mode =
	        kit_cmdline_is(cmdline, "apic", "x2apic") ? GUEST_APIC_X2APIC : GUEST_APIC_XAPIC;
	unsigned int ncpus = guest_fwcfg_nb_cpus();

	guest_apic_set_mode(want_mode);
	uint32_t bsp_id = guest_apic_id();
	GUEST_ASSERT_MSG(bsp_id < ARRAY_SIZE(id_count), "smp: BSP APIC ID %u", bsp_id);
	guest_smp_prepare(ap_main);
	if (targeted)
		start_targeted(ncpus, bsp_id);
	else if (ncpus > 1)
		guest_smp_start_all(ncpus - 1, KIT_TSC_TIMEOUT_LONG);

	GUEST_ASSERT_MSG(guest_smp_wait_finished(ncpus - 1, KIT_TSC_TIMEOUT_LONG),
	                 "smp: %u of %u APs finished (%u arrived)", guest_smp_aps_finished(),
	                 ncpus - 1, guest_smp_aps_arrived());
	unsigned int arrived = guest_smp_aps_arrived();
	GUEST_ASSERT_MSG(arrived == ncpus - 1, "smp: %u APs arrived, expected %u", arrived,
	                 ncpus - 1);
	GUEST_ASSERT_EQ(guest_smp_aps_overflow(), 0);
	GUEST_ASSERT_MSG(!wrong_mode, "smp: %u APs not in APIC mode %u", wrong_mode, want_mode);
	GUEST_ASSERT_MSG(id_count[bsp_id] == 0, "smp: an AP reported the BSP's APIC ID %u", bsp_id);
	for (unsigned int i = 0; i < ARRAY_SIZE(id_count); i++)
		GUEST_ASSERT_MSG(id_count[i] <= 1, "smp: APIC ID %u reported by %u APs", i,
		                 id_count[i]);

	GUEST_REPORT(SMP_STAGE_SUMMARY, arrived, bsp_id, ncpus);
	guest_printf("smp: PASS: %u APs online (%s, %s), BSP APIC ID %u\n", arrived,
	             targeted ? "targeted" : "broadcast",
	             want_mode == GUEST_APIC_X2APIC ? "x2APIC" : "xAPIC", bsp_id);
	GUEST_DONE();
}
