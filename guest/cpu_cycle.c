/*
 * Guest CPU offline/online cycle (seed 004): the BSP restarts every AP with
 * INIT-SIPI(-SIPI), over and over. The APs run a real-mode stub (rmstub.h,
 * SIPI vector 0x0a) that records the cycle number and TSC per APIC ID, counts
 * its arrival and parks in HLT with interrupts off; the next INIT takes it out
 * of there. Each cycle the BSP waits (bounded) until every AP arrived, checks
 * that each recorded this cycle exactly once, and goes on; an AP missing at
 * the end of the wait is a lost AP and fails the test.
 * Command line (all optional):
 *   cycles=N      cycles (default 100; 1..1000000)
 *   sipi=double   INIT, SIPI, a wait of at most ~1 ms for the arrivals, SIPI
 *                 again (the usual sequence; the default)
 *   sipi=single   INIT, one SIPI: works only because nothing (no SMI) can take
 *                 the AP out of wait-for-SIPI between the two
 *   sipi=retry    INIT, SIPI, then again SIPI to each AP that has not arrived
 *                 after ~1 ms, until all did (at most 1000 rounds)
 *   dest=each     one INIT and SIPI per AP, addressed by APIC ID 0..N-1
 *                 (the default); dest=all: broadcast to all excluding self
 *   apic=x2apic   send from x2APIC mode (default xapic)
 *   report=K      the stub sends one ucall every K cycles (default 100; 0: none)
 *   bench         print TSC measurements (see below)
 * The stub's ucall is REPORT stage 100, args[1] = cycle, on each AP's vCPU,
 * in cycles K, 2K, ... (not every cycle: a ucall is a VM exit).
 *
 * Reports (ucall) from the BSP at the end:
 *   REPORT stage 101, args[1] = cycles, args[2] = APs, args[3] = lost APs (0)
 *   REPORT stage 102, args[1] = INITs sent per AP (cycles), args[2] = SIPIs
 *     sent to APs (summed over APs), args[3] = retry SIPIs among them
 *   then DONE.
 * Serial: "cpu_cycle: PASS: <c> cycles x <n> APs, 0 lost (sipi=..., dest=...,
 *   <apic>)"; with bench also one line
 *   "LCBENCH cycle vcpus=<n+1> cycles=<c> sipi_to_all=<ticks> reinit=<ticks>"
 *   with the medians, over cycles 2..c, of the TSC ticks from the (first) SIPI
 *   to the last AP's arrival in the stub, and from the INIT to the BSP seeing
 *   all arrived (cycle 1 starts APs that were never started, so it is left out).
 */
#include "guest/lib/kit.h"

#define STUB_VEC    0x0a
#define MAX_SAMPLES 1000
#define MAX_RETRIES 1000

enum sipi_mode { SIPI_DOUBLE, SIPI_SINGLE, SIPI_RETRY };

static uint64_t sipi_samples[MAX_SAMPLES], cycle_samples[MAX_SAMPLES];

static uint64_t cmdline_u64(const char *cmdline, const char *key, uint64_t def)
{
	uint64_t v = def;
	GUEST_ASSERT_MSG(kit_cmdline_u64(cmdline, key, &v) >= 0, "cpu_cycle: bad %s=", key);
	return v;
}

/* INIT (or one SIPI) to every AP: one broadcast, or one IPI per APIC ID but the BSP's. */
static void to_all_aps(bool broadcast, unsigned int n, uint32_t bsp, bool init)
{
	for (uint32_t id = 0; id < (broadcast ? 1 : n); id++) {
		if (!broadcast && id == bsp)
			continue;
		uint32_t shorthand = broadcast ? APIC_DEST_ALL_BUT_SELF : 0;
		if (init)
			guest_smp_send_init(id, shorthand);
		else
			guest_smp_send_sipi(id, shorthand, STUB_VEC);
	}
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	uint64_t cycles = cmdline_u64(cmdline, "cycles", 100);
	uint64_t every = cmdline_u64(cmdline, "report", 100);
	enum sipi_mode sipi = kit_cmdline_is(cmdline, "sipi", "single")  ? SIPI_SINGLE
	                      : kit_cmdline_is(cmdline, "sipi", "retry") ? SIPI_RETRY
	                                                                 : SIPI_DOUBLE;
	bool broadcast = kit_cmdline_is(cmdline, "dest", "all");
	bool bench = kit_cmdline_has(cmdline, "bench");
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	static const char *const sipi_names[] = {"double", "single", "retry"};
	GUEST_ASSERT_MSG(cycles >= 1 && cycles <= 1000000, "cpu_cycle: cycles=%lu", cycles);

	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2, "cpu_cycle: needs at least 2 vCPUs");
	guest_apic_set_mode(mode);
	uint32_t bsp = guest_apic_id();
	const unsigned int aps = n - 1;
	struct kit_rmstub *stub = guest_rmstub_install(STUB_VEC);
	uint64_t sipis = 0, retries = 0;
	unsigned int samples = 0;

	for (uint32_t c = 1; c <= cycles; c++) {
		stub->cycle = c;
		if (every && c % every == 0)
			guest_rmstub_set_report(stub, CVM_STAGE_USER, c, 0, 0);
		else
			guest_rmstub_clear_report(stub);
		uint32_t target = (c - 1) * aps + aps;

		uint64_t t_init = rdtsc();
		to_all_aps(broadcast, n, bsp, true);
		uint64_t t_sipi = rdtsc();
		to_all_aps(broadcast, n, bsp, false);
		sipis += aps;
		if (sipi == SIPI_DOUBLE) {
			guest_wait_ge(&stub->arrived, target, KIT_TSC_SIPI_GAP);
			to_all_aps(broadcast, n, bsp, false);
			sipis += aps;
		}
		for (unsigned int r = 0; sipi == SIPI_RETRY && r < MAX_RETRIES; r++) {
			if (guest_wait_ge(&stub->arrived, target, KIT_TSC_SIPI_GAP))
				break;
			for (uint32_t id = 0; id < n; id++) {
				if (id != bsp && stub->seen[id] != c) {
					guest_smp_send_sipi(id, 0, STUB_VEC);
					sipis++;
					retries++;
				}
			}
		}
		if (!guest_wait_ge(&stub->arrived, target, KIT_TSC_TIMEOUT_LONG)) {
			uint32_t lost = 0, first = 0;
			for (uint32_t id = 0; id < n; id++)
				if (id != bsp && stub->seen[id] != c && !lost++)
					first = id;
			GUEST_REPORT(CVM_STAGE_USER + 1, c, aps, lost);
			GUEST_FAIL("cpu_cycle: cycle %u: %u lost APs (first: APIC ID %u)", c, lost,
			           first);
		}
		uint64_t t_done = rdtsc(), last = 0;
		for (uint32_t id = 0; id < n; id++) {
			if (id == bsp)
				continue;
			GUEST_ASSERT_MSG(stub->seen[id] == c,
			                 "cpu_cycle: cycle %u: APIC ID %u last seen in cycle %u", c,
			                 id, stub->seen[id]);
			if (stub->tsc[id] > last)
				last = stub->tsc[id];
		}
		GUEST_ASSERT_MSG(stub->arrived == target,
		                 "cpu_cycle: cycle %u: %u arrivals, want %u", c, stub->arrived,
		                 target);
		if (c > 1 && samples < MAX_SAMPLES) {
			sipi_samples[samples] = last > t_sipi ? last - t_sipi : 0;
			cycle_samples[samples] = t_done - t_init;
			samples++;
		}
	}
	guest_rmstub_clear_report(stub);

	GUEST_REPORT(CVM_STAGE_USER + 1, cycles, aps, 0);
	GUEST_REPORT(CVM_STAGE_USER + 2, cycles, sipis, retries);
	if (bench && samples)
		guest_printf("LCBENCH cycle vcpus=%u cycles=%lu sipi_to_all=%lu reinit=%lu\n", n,
		             cycles, kit_median_u64(sipi_samples, samples),
		             kit_median_u64(cycle_samples, samples));
	guest_printf("cpu_cycle: PASS: %lu cycles x %u APs, 0 lost (sipi=%s, dest=%s, %s)\n",
	             cycles, aps, sipi_names[sipi], broadcast ? "all" : "each",
	             guest_apic_mode_name(mode));
	GUEST_DONE();
}
