/*
 * SIPI-to-a-running-AP test guest: a start-up IPI reaches only a processor in
 * wait-for-SIPI; one that is running or halted discards it and carries on.
 * Needs at least 2 vCPUs. A real-mode stub (rmstub.h) at SIPI vector 0x0c
 * counts every AP that starts there: it must stay at 0 until step 4.
 *   1. every AP runs a loop bumping its heartbeat; the BSP sends each AP a
 *      SIPI(0x0c) and waits until that AP's heartbeat advanced by 200 more
 *      beats: it kept running its code;
 *   2. one SIPI(0x0c) to all excluding self; again every heartbeat advances;
 *   3. the APs leave their loop and park (HLT, interrupts off); the BSP sends
 *      each a SIPI(0x0c), then an NMI, and waits for the NMI handler: by then
 *      the SIPI has been dealt with (discarded);
 *   4. control: INIT then SIPI(0x0c) to the first AP: it starts in the stub
 *      (stub count 1), showing that the stub would have counted a wrong start.
 *
 * Reports (ucall):
 *   each AP once, from itself, when it leaves its loop: REPORT stage 100,
 *     args[1] = APIC ID, args[2] = heartbeat, args[3] = AP index
 *   the BSP: REPORT stage 101, args[1] = SIPIs each AP got while running (2),
 *     args[2] = while halted (1), args[3] = stub starts before step 4 (0);
 *     REPORT stage 102, args[1] = APIC ID of the control AP, args[2] = stub
 *     starts after step 4 (1), args[3] = NB_CPUS; then DONE.
 * Serial: "sipi_running: PASS: <n> APs ignored 3 SIPIs each, control AP <id>
 *   started in the stub".
 */
#include "guest/lib/kit.h"

#define STUB_VEC 0x0c
#define BEATS    200

static volatile uint32_t heartbeat[KIT_MAX_APS], nmis[256];
static volatile uint32_t stop;

static void on_nmi(struct guest_exception_frame *f)
{
	(void)f;
	uint32_t id = guest_apic_id();
	if (id < 256)
		atomic_fetch_add32(&nmis[id], 1);
}

static void ap_main(unsigned int index, uint32_t id)
{
	while (!atomic_load32(&stop)) {
		heartbeat[index]++;
		cpu_relax();
	}
	GUEST_REPORT(CVM_STAGE_USER, id, heartbeat[index], index);
}

/* Waits until AP i's heartbeat passed `from` by BEATS. */
static void wait_beats(unsigned int i, uint32_t from, const char *after)
{
	GUEST_ASSERT_MSG(guest_wait_ge(&heartbeat[i], from + BEATS, KIT_TSC_TIMEOUT_STEP),
	                 "sipi_running: AP %u stopped running after %s (heartbeat %u)", i, after,
	                 heartbeat[i]);
}

void guest_main(void)
{
	guest_set_nmi_handler(on_nmi);
	unsigned int n = guest_smp_boot(ap_main);
	GUEST_ASSERT_MSG(n >= 2, "sipi_running: needs at least 2 vCPUs");
	struct kit_rmstub *stub = guest_rmstub_install(STUB_VEC);
	uint32_t from[KIT_MAX_APS];

	for (unsigned int i = 0; i < n - 1; i++)
		wait_beats(i, 0, "start-up");
	for (unsigned int i = 0; i < n - 1; i++) {
		uint32_t h = heartbeat[i];
		guest_smp_send_sipi(guest_smp_ap_id(i), 0, STUB_VEC);
		wait_beats(i, h, "a targeted SIPI");
	}
	for (unsigned int i = 0; i < n - 1; i++)
		from[i] = heartbeat[i];
	guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, STUB_VEC);
	for (unsigned int i = 0; i < n - 1; i++)
		wait_beats(i, from[i], "a broadcast SIPI");

	stop = 1;
	GUEST_ASSERT_MSG(guest_smp_wait_finished(n - 1, KIT_TSC_TIMEOUT_LONG),
	                 "sipi_running: %u of %u APs parked", guest_smp_aps_finished(), n - 1);
	for (unsigned int i = 0; i < n - 1; i++) {
		uint32_t id = guest_smp_ap_id(i);
		guest_smp_send_sipi(id, 0, STUB_VEC);
		GUEST_ASSERT(guest_apic_send_ipi(id, APIC_DM_NMI | APIC_LEVEL_ASSERT));
		GUEST_ASSERT_MSG(guest_wait_ge(&nmis[id], 1, KIT_TSC_TIMEOUT_STEP),
		                 "sipi_running: parked AP %u never took the NMI after the SIPI",
		                 id);
	}
	uint32_t before = atomic_load32(&stub->arrived);
	GUEST_REPORT(CVM_STAGE_USER + 1, 2, 1, before);
	GUEST_ASSERT_MSG(before == 0, "sipi_running: %u APs started at the SIPI vector", before);

	uint32_t control = guest_smp_ap_id(0);
	stub->cycle = 1;
	guest_smp_send_init(control, 0);
	guest_smp_send_sipi(control, 0, STUB_VEC);
	GUEST_ASSERT_MSG(guest_wait_ge(&stub->arrived, 1, KIT_TSC_TIMEOUT_STEP),
	                 "sipi_running: the control AP %u never started in the stub", control);
	GUEST_ASSERT_EQ(stub->seen[control], 1);
	GUEST_REPORT(CVM_STAGE_USER + 2, control, stub->arrived, n);
	GUEST_ASSERT_EQ(stub->arrived, 1);
	guest_printf("sipi_running: PASS: %u APs ignored 3 SIPIs each, control AP %u started in "
	             "the stub\n",
	             n - 1, control);
	GUEST_DONE();
}
