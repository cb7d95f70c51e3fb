/*
 * INIT-overwrites-a-pending-SIPI test guest. Two real-mode stubs (rmstub.h):
 * A at SIPI vector 0x0a, B at 0x0b. For each AP in turn, 20 rounds of
 *     INIT, SIPI(A), INIT, SIPI(B)
 * sent back to back. Whatever the timing, the AP must end up started at B
 * exactly once per round; A either never ran in that round (its SIPI was still
 * pending, or not yet accepted, when the second INIT came and overwrote it) or
 * ran before B and was then reset by the second INIT. The guest checks, per
 * round, that B recorded the round, and that A, if it recorded the round, did
 * so at an earlier TSC than B. A round in which A did not run is one where the
 * pending SIPI was overwritten; the host test expects at least one such round
 * per AP (the four IPIs take the BSP microseconds, a vCPU needs far longer to
 * act on a SIPI). Needs at least 2 vCPUs.
 * Command line: apic=xapic|x2apic (default xapic: INITs with de-assert),
 * dest=each|all (default each), recover.
 * An AP that never starts at B is lost: the test fails, unless "recover" is
 * given; then the round is counted as lost, the AP restarted with INIT-SIPI(B)
 * and the test goes on. This project's KVM (kernel and split irqchip, which
 * own INIT and SIPI) loses an AP now and then in this burst: an INIT followed
 * by a SIPI that the AP takes before the INIT (see guest/README.md).
 *
 * Reports (ucall), all from the BSP:
 *   per AP: REPORT stage 100, args[1] = APIC ID, args[2] = rounds in which
 *     A ran first (then was reset), args[3] = rounds in which A never ran
 *     (args[2] + args[3] = 20)   (the first 30 APs only: the host keeps 32 reports)
 *   REPORT stage 101, args[1] = APs, args[2] = rounds per AP, args[3] =
 *     rounds, over all APs, in which A never ran;
 *   REPORT stage 102, args[1] = lost rounds (0 without "recover"), args[2] =
 *     1 if "recover" was on; then DONE.
 * Serial: "init_sipi: PASS: <n> APs x 20 rounds, A overwritten in <k>, ran
 *   first in <m>, <l> lost (<each|broadcast>, <apic>)".
 */
#include "guest/lib/kit.h"

#define VEC_A        0x0a
#define VEC_B        0x0b
#define ROUNDS       20
#define KIT_TSC_LOST (1ull << 31) /* ~0.9 s at 2.4 GHz: far beyond any start-up here */

/*
 * INIT, SIPI(A), INIT, SIPI(B) to APIC ID id as fast as the guest can write
 * them: x2APIC, four ICR writes; xAPIC, ICR high once, then six ICR low writes
 * (INIT assert and de-assert each time) with no wait for "send pending" in
 * between (the VMMs deliver when the ICR is written). The shorter the burst,
 * the likelier SIPI(A) is still pending when the second INIT arrives.
 */
static void burst(uint32_t id, uint32_t shorthand, enum guest_apic_mode mode)
{
	const uint32_t init = shorthand | APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL;
	const uint32_t deassert = shorthand | APIC_DM_INIT | APIC_TRIGGER_LEVEL;
	const uint32_t sipi = shorthand | APIC_DM_STARTUP;
	if (mode == GUEST_APIC_X2APIC) {
		const uint32_t icr = MSR_X2APIC_BASE + (APIC_REG_ICR_LO >> 4);
		const uint64_t d = (uint64_t)id << 32;
		wrmsr(icr, d | init);
		wrmsr(icr, d | sipi | VEC_A);
		wrmsr(icr, d | init);
		wrmsr(icr, d | sipi | VEC_B);
		return;
	}
	const uint64_t lo = CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_LO;
	mmio_write32(CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_HI, id << 24);
	mmio_write32(lo, init);
	mmio_write32(lo, deassert);
	mmio_write32(lo, sipi | VEC_A);
	mmio_write32(lo, init);
	mmio_write32(lo, deassert);
	mmio_write32(lo, sipi | VEC_B);
}

static struct kit_rmstub *a, *b;
static uint32_t ran[256], overwritten[256], lost[256];
static bool recover;

/*
 * Waits until AP id started at B in round r, then classifies A's fate in that
 * round. An AP that has not started at B after KIT_TSC_LOST ticks is lost:
 * a failure, or with "recover" counted and restarted at B with INIT-SIPI.
 */
static void check_round(uint32_t id, uint32_t r)
{
	uint64_t t0 = rdtsc();
	bool was_lost = false;
	while (b->seen[id] != r) {
		if (rdtsc() - t0 > KIT_TSC_LOST && recover && !was_lost) {
			lost[id]++;
			was_lost = true;
			guest_smp_send_init(id, 0);
			guest_smp_send_sipi(id, 0, VEC_B);
			t0 = rdtsc();
			continue;
		}
		GUEST_ASSERT_MSG(rdtsc() - t0 < KIT_TSC_TIMEOUT_STEP,
		                 "init_sipi: AP %u round %u: never started at B (B saw round %u, A "
		                 "round %u)",
		                 id, r, b->seen[id], a->seen[id]);
		cpu_relax();
	}
	if (was_lost)
		return; /* restarted at B by hand: A's fate in this round tells nothing */
	/* A from an earlier round must not have run late, after that round's B. */
	if (a->seen[id] == r) {
		GUEST_ASSERT_MSG(a->tsc[id] < b->tsc[id],
		                 "init_sipi: AP %u round %u: A ran after B", id, r);
		ran[id]++;
	} else {
		GUEST_ASSERT_MSG(a->seen[id] == 0xffffffffu || a->seen[id] < r,
		                 "init_sipi: AP %u round %u: A saw round %u", id, r, a->seen[id]);
		overwritten[id]++;
	}
}

/*
 * The stub records seen[] before it counts: the next burst's INIT could reset an
 * AP between the two and lose a count. So before each burst the BSP also waits
 * until B counted every start so far (a restarted AP may count once more).
 */
static uint32_t b_expected;

static void wait_counted(uint32_t starts)
{
	b_expected += starts;
	guest_wait_ge(&b->arrived, b_expected, KIT_TSC_TIMEOUT_STEP);
	GUEST_ASSERT_MSG(b->arrived >= b_expected, "init_sipi: B counted %u starts, want %u",
	                 b->arrived, b_expected);
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	bool broadcast = kit_cmdline_is(guest_boot_cmdline(), "dest", "all");
	recover = kit_cmdline_has(guest_boot_cmdline(), "recover");
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2, "init_sipi: needs at least 2 vCPUs");
	guest_apic_set_mode(mode);
	uint32_t bsp = guest_apic_id();
	a = guest_rmstub_install(VEC_A);
	b = guest_rmstub_install(VEC_B);

	if (broadcast) {
		for (uint32_t r = 1; r <= ROUNDS; r++) {
			a->cycle = r;
			b->cycle = r;
			burst(0, APIC_DEST_ALL_BUT_SELF, mode);
			for (uint32_t id = 0; id < n; id++)
				if (id != bsp)
					check_round(id, r);
			wait_counted(n - 1);
		}
	} else {
		for (uint32_t id = 0; id < n; id++) {
			for (uint32_t r = 1; r <= ROUNDS && id != bsp; r++) {
				a->cycle = r;
				b->cycle = r;
				burst(id, 0, mode);
				check_round(id, r);
				wait_counted(1);
			}
		}
	}
	uint32_t ran_total = 0, overwritten_total = 0, lost_total = 0, reported = 0;
	for (uint32_t id = 0; id < n; id++) {
		if (id == bsp)
			continue;
		if (reported++ < 30)
			GUEST_REPORT(CVM_STAGE_USER, id, ran[id], overwritten[id]);
		ran_total += ran[id];
		overwritten_total += overwritten[id];
		lost_total += lost[id];
	}
	/* One start at B per AP and round; a lost AP restarted by hand may count once more. */
	GUEST_ASSERT_MSG(b->arrived >= (n - 1) * ROUNDS &&
	                         b->arrived <= (n - 1) * ROUNDS + lost_total,
	                 "init_sipi: B counted %u starts, want %u (+ at most %u restarts)",
	                 b->arrived, (n - 1) * ROUNDS, lost_total);
	/* A may be reset between its records and its count: never more counts than records. */
	GUEST_ASSERT_MSG(a->arrived <= ran_total, "init_sipi: A counted %u starts, recorded %u",
	                 a->arrived, ran_total);
	GUEST_REPORT(CVM_STAGE_USER + 1, n - 1, ROUNDS, overwritten_total);
	GUEST_REPORT(CVM_STAGE_USER + 2, lost_total, recover, 0);
	guest_printf("init_sipi: PASS: %u APs x %u rounds, A overwritten in %u, ran first in %u, "
	             "%u lost (%s, %s)\n",
	             n - 1, ROUNDS, overwritten_total, ran_total, lost_total,
	             broadcast ? "broadcast" : "each", guest_apic_mode_name(mode));
	GUEST_DONE();
}
