/*
 * AP reset hold test guest (seed 002, docs/protected-state.md): every AP
 * parks by the GHCB MSR protocol's AP reset hold (WRMSR 0xC0010130 <- 0x006)
 * and the BSP wakes it by INIT-SIPI, `rounds=N` times (default 1000). On
 * every wake the AP checks that its general-purpose registers and RSP are
 * exactly as before the request (a canary from RDRAND and the TSC, kept only
 * in registers, guest/lib/hold.h) and that the response is 0x007 with
 * non-zero bits 63:12; a failed check is an assertion. The APs start at the
 * kit's measured entry: with --protected-state by the first INIT-SIPI-SIPI
 * whatever the vector, otherwise by SIPIs to the measured trampoline.
 *
 * Command line:
 *   rounds=N        wake rounds (1..100000)
 *   first=trap      the first-boot SIPIs point at a real-mode trap stub
 *                   (vector 0x0a); the APs must start at their measured entry
 *                   instead (needs --protected-state), the stub must count 0
 *   protected       corevm runs with --protected-state: no AP may ever enter
 *                   the measured entry a second time (an INIT-SIPI that
 *                   restarted it would have written its registers)
 *   bench           benchmark (bench/reset-hold): the APs hold without the
 *                   register check and count their wake right after the
 *                   WRMSR; the BSP measures each round from its INIT to every
 *                   AP running again (TSC ticks), over rounds 2.. (at most 512)
 *   probe           only this: the BSP requests one AP reset hold and reports
 *                   what the GHCB MSR then reads (for --irqchip kernel and
 *                   split, where corevm refuses the hold: the value stays
 *                   0x006, no response); 1 vCPU is enough
 *   end=hold        at the end the BSP parks itself by AP reset hold too
 *                   instead of DONE: with every vCPU held nothing can run,
 *                   and corevm ends the VM as a deadlock (status 12) with
 *                   every MP state AP_RESET_HOLD
 * Without `protected`, an INIT that overtakes an AP between announcing its
 * hold and making it restarts that AP through the trampoline (architecture:
 * INIT resets a running CPU); the AP then parks again and the BSP resends
 * INIT-SIPI to an AP that did not report its wake in time. Such restarts
 * and resends are counted, never hidden: a wake counts only once the AP has
 * checked its registers.
 *
 * Reports (ucall):
 *   BSP: REPORT stage 100 after the first boot: args[1] = APs, args[2] = APs
 *        that arrived at the measured entry, args[3] = trap stub arrivals
 *   BSP: REPORT stage 101 per AP at the end: args[1] = vCPU, args[2] = wakes
 *        verified, args[3] = times it entered the measured entry
 *   BSP: REPORT stage 102: args[1] = rounds, args[2] = resends of INIT-SIPI,
 *        args[3] = "not woken" responses (0x007 with GHCBData 0) the APs saw
 *   BSP (probe): REPORT stage 104: args[1] = the GHCB MSR after the request,
 *        args[2] = faults of the WRMSR and RDMSR (0)
 *   BSP (bench): REPORT stage 103: args[1] = median round in TSC ticks,
 *        args[2] = APs, args[3] = rounds measured; serial line
 *        "LCBENCH hold vcpus=<n> rounds=<r> wake=<median ticks>"
 *   then DONE (or, with end=hold, the BSP's own hold). At the end every AP
 *   is held again or about to be.
 * Serial: "reset_hold: PASS: <aps> APs, <rounds> rounds".
 */
#include "guest/lib/hold.h"
#include "guest/lib/kit.h"

#define TRAP_VEC 0x0a
#define RESEND_TSC \
	(1ull << 27) /* ~50 ms: after this an AP that has not reported gets INIT-SIPI again */
#define MAX_ROUNDS 100000u
#define BENCH_KEEP 512u /* the median sorts by insertion: keep it small */

static volatile uint32_t parked[KIT_MAX_APS + 1]; /* round the AP is parking for */
static volatile uint32_t woken[KIT_MAX_APS + 1];  /* last round whose wake the AP verified */
static volatile uint32_t spurious[KIT_MAX_APS + 1];
static volatile uint32_t running; /* bench: APs back from a hold (counted right after the WRMSR) */
static uint64_t bench_ticks[BENCH_KEEP];
static bool bench;

/* bench: the hold without the check; the wake is counted by the first instruction after it. */
static void ap_bench(unsigned int vcpu)
{
	for (;;) {
		uint32_t r = atomic_load32(&woken[vcpu]) + 1;
		atomic_store32(&parked[vcpu], r);
		guest_ghcb_write(KIT_GHCB_HOLD_REQUEST);
		atomic_fetch_add32(&running, 1);
		if ((guest_ghcb_read() >> 12) == 0) {
			atomic_fetch_add32(&spurious[vcpu], 1);
			continue;
		}
		atomic_store32(&woken[vcpu], r);
	}
}

static void ap_main(unsigned int vcpu, unsigned int entries)
{
	struct guest_hold_result res;

	(void)entries;
	if (bench)
		ap_bench(vcpu);
	for (;;) {
		uint32_t r = atomic_load32(&woken[vcpu]) + 1;
		atomic_store32(&parked[vcpu], r);
		guest_ap_reset_hold_checked(&res);
		if (res.bad_regs)
			GUEST_FAIL(
			        "reset_hold: vcpu %u round %u: registers changed across the hold "
			        "(bits 0x%x)",
			        vcpu, r, res.bad_regs);
		if (!res.woken) {
			/* "Not woken": the request was overtaken by an INIT; ask again. */
			GUEST_ASSERT_MSG(res.response == KIT_GHCB_HOLD_RESPONSE,
			                 "reset_hold: vcpu %u: response 0x%lx", vcpu, res.response);
			atomic_fetch_add32(&spurious[vcpu], 1);
			continue;
		}
		atomic_store32(&woken[vcpu], r);
	}
}

static void init_sipi(uint32_t dest, uint32_t shorthand, uint8_t vector)
{
	guest_smp_send_init(dest, shorthand);
	guest_smp_send_sipi(dest, shorthand, vector);
}

/* Waits until every AP reached `r` in `a`; resends INIT-SIPI to laggards if `resend`. */
static void wait_all(volatile uint32_t *a, unsigned int n, uint32_t r, bool resend,
                     uint32_t *resends, const char *what)
{
	uint64_t deadline = rdtsc() + KIT_TSC_TIMEOUT_LONG;

	for (unsigned int i = 1; i < n; i++) {
		while (!guest_wait_ge(&a[i], r, resend ? RESEND_TSC : KIT_TSC_TIMEOUT_LONG)) {
			GUEST_ASSERT_MSG(resend && rdtsc() < deadline,
			                 "reset_hold: vcpu %u never %s in round %u (at %u)", i,
			                 what, r, a[i]);
			init_sipi(i, 0, KIT_MEASURED_SIPI_VECTOR);
			(*resends)++;
		}
	}
}

void guest_main(void)
{
	const char *cmd = guest_boot_cmdline();
	uint64_t rounds = 1000;
	bool first_trap = kit_cmdline_is(cmd, "first", "trap");
	bool prot = kit_cmdline_has(cmd, "protected");
	unsigned int n = guest_fwcfg_nb_cpus();
	uint32_t resends = 0, sp = 0, arrived = 0, trapped = 0, nbench = 0;
	struct kit_rmstub *stub = NULL;

	if (kit_cmdline_has(cmd, "probe")) {
		uint64_t back = 0;
		unsigned int faults = guest_wrmsr_safe(KIT_MSR_GHCB, KIT_GHCB_HOLD_REQUEST) != 0;
		faults += guest_rdmsr_safe(KIT_MSR_GHCB, &back) != 0;
		GUEST_REPORT(CVM_STAGE_USER + 4, back, faults, 0);
		GUEST_DONE();
	}
	GUEST_ASSERT_MSG(kit_cmdline_u64(cmd, "rounds", &rounds) >= 0, "reset_hold: bad rounds=");
	GUEST_ASSERT_MSG(rounds >= 1 && rounds <= MAX_ROUNDS, "reset_hold: rounds=%lu", rounds);
	GUEST_ASSERT_MSG(n >= 2 && n - 1 <= KIT_MAX_APS, "reset_hold: %u vCPUs", n);
	GUEST_ASSERT_MSG(!first_trap || prot, "reset_hold: first=trap needs protected");
	bench = kit_cmdline_has(cmd, "bench");
	guest_measured_prepare(ap_main);
	if (first_trap)
		stub = guest_rmstub_install(TRAP_VEC);

	/* First boot: INIT-SIPI-SIPI to all; the APs announce their first hold. */
	uint8_t v = first_trap ? TRAP_VEC : KIT_MEASURED_SIPI_VECTOR;
	guest_smp_send_init(0, APIC_DEST_ALL_BUT_SELF);
	guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, v);
	guest_wait_ge(&parked[n - 1], 1, KIT_TSC_SIPI_GAP);
	guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, v);
	wait_all(parked, n, 1, false, &resends, "arrived");
	for (unsigned int i = 1; i < n; i++)
		arrived += guest_measured_entries(i) >= 1;
	trapped = stub ? atomic_load32(&stub->arrived) : 0;
	GUEST_REPORT(CVM_STAGE_USER, n - 1, arrived, trapped);
	GUEST_ASSERT_MSG(trapped == 0, "reset_hold: %u APs started at the SIPI vector's trap",
	                 trapped);

	for (uint32_t r = 1; r <= rounds; r++) {
		wait_all(parked, n, r, false, &resends, "parked");
		uint32_t base = atomic_load32(&running);
		uint64_t t0 = rdtsc();
		init_sipi(0, APIC_DEST_ALL_BUT_SELF, KIT_MEASURED_SIPI_VECTOR);
		if (bench && r >= 2 && r - 2 < BENCH_KEEP) {
			/* A round that needs a resend counts with its wait: the median decides. */
			guest_wait_ge(&running, base + n - 1, RESEND_TSC);
			bench_ticks[nbench++] = rdtsc() - t0;
		}
		wait_all(woken, n, r, true, &resends, "woke");
	}
	/* Every AP parks once more: they end held. */
	wait_all(parked, n, (uint32_t)rounds + 1, false, &resends, "parked");

	for (unsigned int i = 1; i < n; i++) {
		unsigned int e = guest_measured_entries(i);
		sp += atomic_load32(&spurious[i]);
		GUEST_REPORT(CVM_STAGE_USER + 1, i, woken[i], e);
		GUEST_ASSERT_MSG(!prot || e == 1,
		                 "reset_hold: vcpu %u entered its measured entry %u times with "
		                 "protected state",
		                 i, e);
	}
	GUEST_REPORT(CVM_STAGE_USER + 2, rounds, resends, sp);
	if (bench) {
		uint64_t med = kit_median_u64(bench_ticks, nbench);
		GUEST_REPORT(CVM_STAGE_USER + 3, med, n - 1, nbench);
		guest_printf("LCBENCH hold vcpus=%u rounds=%u wake=%lu\n", n, nbench, med);
	}
	guest_printf("reset_hold: PASS: %u APs, %lu rounds\n", n - 1, rounds);
	if (kit_cmdline_is(cmd, "end", "hold")) {
		guest_ghcb_write(KIT_GHCB_HOLD_REQUEST); /* never woken: corevm sees a deadlock */
		GUEST_FAIL("reset_hold: the BSP's own hold returned (0x%lx)", guest_ghcb_read());
	}
	GUEST_DONE();
}
