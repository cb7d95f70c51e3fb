/*
 * INIT, SIPI and NMI storm guest. Needs at least 3 vCPUs. APs run a loop that
 * beats a per-APIC-ID heartbeat and makes a progress step (an unclaimed-port
 * read corevm must answer) per beat; every (re)start of an AP counts one
 * arrival for its APIC ID. Phases, each waiting (bounded) for its effect:
 *   1. INIT-SIPI-SIPI at running APs, from the BSP: 8 broadcast rounds and 8
 *      rounds targeted at each AP in turn, each awaited (every AP restarts and
 *      beats again); then a blind storm: 16 INITs to all but self, then 16
 *      SIPIs, awaited as one restart per AP;
 *   2. the AP with APIC ID 1 sends 64 SIPIs to the running BSP (discarded:
 *      the BSP keeps stepping and never restarts) and 8 INIT-SIPI-SIPI
 *      sequences to APIC ID 2 while it runs (it restarts each time);
 *   3. NMI storm: the BSP sends 1000 NMIs to all but itself and 100 to
 *      itself, and AP 1 sends 1000 to the BSP; every vCPU counts them in its
 *      handler and keeps beating (NMIs are only sent once no AP is starting:
 *      a real-mode AP would take an NMI through a garbage IVT).
 * With `init-bsp` on the command line, phase 1 to 3 are skipped and AP 1
 * sends INIT to the BSP: KVM resets the BSP to the reset vector 0xfffffff0,
 * which lies in corevm's MMIO hole; the defined end is a vCPU error (status
 * 12, "internal error": the BSP cannot fetch instructions there).
 *
 * Reports (ucall):
 *   the BSP: REPORT stage 110, args[1] = AP restarts awaited in phase 1,
 *     args[2] = arrivals of all APs, args[3] = BSP arrivals (0);
 *   REPORT stage 111, args[1] = arrivals of APIC ID 2 during phase 2 (8),
 *     args[2] = BSP steps during phase 2 (>= 64), args[3] = SIPIs AP 1 sent (64);
 *   REPORT stage 112, args[1] = NMIs the BSP handled (1..1100), args[2] =
 *     fewest NMIs any AP handled (>= 1), args[3] = NMIs sent in all (2100);
 *   then REPORT stage 100 (progress summary) and DONE.
 */
#include "guest/hostile.h"

#define STAGE_INIT_SIPI (CVM_STAGE_USER + 10)
#define STAGE_AT_BSP    (CVM_STAGE_USER + 11)
#define STAGE_NMI       (CVM_STAGE_USER + 12)

#define ROUNDS    8
#define BLIND     16
#define BSP_SIPIS 64
#define NMI_STORM 1000
#define SELF_NMIS 100
#define MAX_VCPUS 16

static unsigned int ncpus;
static volatile uint32_t arrivals[MAX_VCPUS], beats[MAX_VCPUS], nmis[MAX_VCPUS];
static volatile uint32_t phase, ap1_sipis, ap1_restarts_of_2, ap1_done;
static volatile uint64_t ap1_steps;

static void on_nmi(struct guest_exception_frame *f)
{
	(void)f;
	atomic_fetch_add32(&nmis[guest_apic_id() % MAX_VCPUS], 1);
}

/* Bounded wait until cond() holds. */
#define WAIT_FOR(cond, ...)                                                                  \
	do {                                                                                 \
		uint64_t t0_ = rdtsc();                                                      \
		while (!(cond)) {                                                            \
			GUEST_ASSERT_MSG(rdtsc() - t0_ < KIT_TSC_TIMEOUT_LONG, __VA_ARGS__); \
			cpu_relax();                                                         \
		}                                                                            \
	} while (0)

static void send(uint32_t dest, uint32_t lo)
{
	GUEST_ASSERT_MSG(guest_apic_send_ipi(dest, lo), "storm: IPI 0x%x to %u stays pending", lo,
	                 dest);
}

static void init_sipi_sipi(uint32_t dest, uint32_t shorthand)
{
	send(dest, shorthand | APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL);
	send(dest, shorthand | APIC_DM_INIT | APIC_TRIGGER_LEVEL);
	send(dest, shorthand | APIC_DM_STARTUP | KIT_SIPI_VECTOR);
	send(dest, shorthand | APIC_DM_STARTUP | KIT_SIPI_VECTOR);
}

/* Phase 2 on AP 1: SIPIs at the running BSP, INIT-SIPI-SIPI at running AP 2. */
static void ap1_phase2(void)
{
	uint64_t s0 = hostile_steps_now();
	for (unsigned int i = 0; i < BSP_SIPIS; i++, ap1_sipis++)
		send(0, APIC_DM_STARTUP | KIT_SIPI_VECTOR);
	for (unsigned int i = 0; i < ROUNDS; i++) {
		uint32_t a = atomic_load32(&arrivals[2]);
		init_sipi_sipi(2, 0);
		WAIT_FOR(atomic_load32(&arrivals[2]) > a && atomic_load32(&beats[2]) > 0,
		         "storm: AP 2 did not restart after INIT-SIPI-SIPI %u from AP 1", i);
		ap1_restarts_of_2++;
	}
	hostile_wait_progress(s0);
	ap1_steps = hostile_steps_now() - s0;
	atomic_store32(&ap1_done, 1);
}

static void ap(unsigned int index, uint32_t apic_id)
{
	uint32_t me = apic_id % MAX_VCPUS;
	(void)index;
	atomic_store32(&beats[me], 0);
	atomic_fetch_add32(&arrivals[me], 1); /* after the reset: arrival seen => beats are new */
	for (;;) {
		if (me == 1 && atomic_load32(&phase) == 2 && !ap1_done)
			ap1_phase2();
		if (me == 1 && atomic_load32(&phase) == 3 && !ap1_done) {
			for (unsigned int i = 0; i < NMI_STORM; i++)
				send(0, APIC_DM_NMI);
			atomic_store32(&ap1_done, 1);
		}
		if (me == 1 && atomic_load32(&phase) == 9 && !ap1_done) {
			atomic_store32(&ap1_done, 1);
			send(0, APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL);
		}
		atomic_fetch_add32(&beats[me], 1);
		GUEST_ASSERT_EQ(inb(HOSTILE_PROGRESS_PORT), 0xff);
		for (int i = 0; i < 64; i++)
			cpu_relax();
	}
}

static uint32_t expected[MAX_VCPUS]; /* arrivals each AP should have made so far */

/* Waits until every AP arrived as often as expected and beat since its last (re)start. */
static void wait_beats(const char *what)
{
	for (uint32_t id = 1; id < ncpus; id++)
		WAIT_FOR(atomic_load32(&arrivals[id]) >= expected[id] &&
		                 atomic_load32(&beats[id]) >= 1,
		         "storm: AP %u (%u of %u starts) does not beat after %s", id, arrivals[id],
		         expected[id], what);
}

static void expect_all(void)
{
	for (uint32_t id = 1; id < ncpus; id++)
		expected[id]++;
}

static uint32_t all_arrivals(void)
{
	uint32_t sum = 0;
	for (uint32_t id = 1; id < ncpus; id++)
		sum += atomic_load32(&arrivals[id]);
	return sum;
}

static void phase1(void)
{
	uint32_t restarts = 0;
	for (unsigned int r = 0; r < ROUNDS; r++) {
		GUEST_ASSERT_EQ(guest_smp_start_all(ncpus - 1, KIT_TSC_TIMEOUT_LONG), ncpus - 1);
		restarts += ncpus - 1;
		expect_all();
		wait_beats("a broadcast INIT-SIPI-SIPI");
		for (uint32_t id = 1; id < ncpus; id++) {
			GUEST_ASSERT(guest_smp_start_one(id, KIT_TSC_TIMEOUT_LONG));
			restarts++;
			expected[id]++;
			wait_beats("a targeted INIT-SIPI-SIPI");
		}
	}
	uint32_t before = all_arrivals();
	for (unsigned int i = 0; i < BLIND; i++)
		send(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_INIT | APIC_LEVEL_ASSERT |
		                APIC_TRIGGER_LEVEL);
	for (unsigned int i = 0; i < BLIND; i++)
		send(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_STARTUP | KIT_SIPI_VECTOR);
	WAIT_FOR(all_arrivals() >= before + ncpus - 1,
	         "storm: %u of %u APs restarted after the blind storm", all_arrivals() - before,
	         ncpus - 1);
	restarts += ncpus - 1;
	for (uint32_t id = 1; id < ncpus; id++)
		expected[id] = arrivals[id];
	wait_beats("the blind storm");
	GUEST_REPORT(STAGE_INIT_SIPI, restarts, all_arrivals(), arrivals[0]);
}

static void phase2(void)
{
	uint32_t a2 = atomic_load32(&arrivals[2]);
	atomic_store32(&ap1_done, 0);
	atomic_store32(&phase, 2);
	while (!atomic_load32(&ap1_done))
		hostile_step(); /* bounded by AP 1's own waits */
	GUEST_ASSERT_EQ(arrivals[0], 0);
	GUEST_REPORT(STAGE_AT_BSP, atomic_load32(&arrivals[2]) - a2, ap1_steps, ap1_sipis);
	expected[2] = arrivals[2];
	wait_beats("phase 2");
}

static void phase3(void)
{
	uint32_t least = UINT32_MAX;
	atomic_store32(&ap1_done, 0);
	atomic_store32(&phase, 3);
	for (unsigned int i = 0; i < NMI_STORM; i++)
		send(0, APIC_DEST_ALL_BUT_SELF | APIC_DM_NMI);
	for (unsigned int i = 0; i < SELF_NMIS; i++)
		send(guest_apic_id(), APIC_DM_NMI);
	WAIT_FOR(atomic_load32(&ap1_done), "storm: AP 1 did not finish its NMIs");
	for (uint32_t id = 1; id < ncpus; id++) {
		uint32_t b = atomic_load32(&beats[id]);
		WAIT_FOR(atomic_load32(&beats[id]) > b, "storm: AP %u stopped beating after NMIs",
		         id);
		if (nmis[id] < least)
			least = nmis[id];
	}
	GUEST_REPORT(STAGE_NMI, nmis[0], least, 2 * NMI_STORM + SELF_NMIS);
}

void guest_main(void)
{
	ncpus = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(ncpus >= 3 && ncpus <= MAX_VCPUS, "storm: needs 3 to %u vCPUs, has %u",
	                 MAX_VCPUS, ncpus);
	guest_set_nmi_handler(on_nmi);
	hostile_start(ap, 3);
	expect_all();
	wait_beats("the start");
	if (kit_cmdline_is(guest_boot_cmdline(), "mode", "init-bsp")) {
		atomic_store32(&phase, 9);
		for (;;)
			hostile_step(); /* until the INIT resets this vCPU */
	}
	phase1();
	phase2();
	phase3();
	GUEST_REPORT(HOSTILE_STAGE_SUMMARY, hostile_steps, 0, 0);
	GUEST_DONE();
}
