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
 * Command line: apic=xapic|x2apic (default xapic: INITs with de-assert).
 *
 * Reports (ucall), all from the BSP:
 *   per AP: REPORT stage 100, args[1] = APIC ID, args[2] = rounds in which
 *     A ran first (then was reset), args[3] = rounds in which A never ran
 *     (args[2] + args[3] = 20)   (the first 30 APs only: the host keeps 32 reports)
 *   REPORT stage 101, args[1] = APs, args[2] = rounds per AP, args[3] =
 *     rounds, over all APs, in which A never ran; then DONE.
 * Serial: "init_sipi: PASS: <n> APs x 20 rounds, A overwritten in <k>, ran
 *   first in <m>".
 */
#include "guest/lib/kit.h"

#define VEC_A  0x0a
#define VEC_B  0x0b
#define ROUNDS 20

/*
 * INIT, SIPI(A), INIT, SIPI(B) to APIC ID id as fast as the guest can write
 * them: x2APIC, four ICR writes; xAPIC, ICR high once, then six ICR low writes
 * (INIT assert and de-assert each time) with no wait for "send pending" in
 * between (the VMMs deliver when the ICR is written). The shorter the burst,
 * the likelier SIPI(A) is still pending when the second INIT arrives.
 */
static void burst(uint32_t id, enum guest_apic_mode mode)
{
	const uint32_t init = APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL;
	const uint32_t deassert = APIC_DM_INIT | APIC_TRIGGER_LEVEL;
	if (mode == GUEST_APIC_X2APIC) {
		const uint32_t icr = MSR_X2APIC_BASE + (APIC_REG_ICR_LO >> 4);
		const uint64_t d = (uint64_t)id << 32;
		wrmsr(icr, d | init);
		wrmsr(icr, d | APIC_DM_STARTUP | VEC_A);
		wrmsr(icr, d | init);
		wrmsr(icr, d | APIC_DM_STARTUP | VEC_B);
		return;
	}
	const uint64_t lo = CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_LO;
	mmio_write32(CVM_GUEST_LAPIC_BASE + APIC_REG_ICR_HI, id << 24);
	mmio_write32(lo, init);
	mmio_write32(lo, deassert);
	mmio_write32(lo, APIC_DM_STARTUP | VEC_A);
	mmio_write32(lo, init);
	mmio_write32(lo, deassert);
	mmio_write32(lo, APIC_DM_STARTUP | VEC_B);
}

void guest_main(void)
{
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	unsigned int n = guest_fwcfg_nb_cpus();
	GUEST_ASSERT_MSG(n >= 2, "init_sipi: needs at least 2 vCPUs");
	guest_apic_set_mode(mode);
	uint32_t bsp = guest_apic_id();
	struct kit_rmstub *a = guest_rmstub_install(VEC_A), *b = guest_rmstub_install(VEC_B);
	uint32_t overwritten_total = 0, ran_total = 0, aps = 0;

	for (uint32_t id = 0; id < n; id++) {
		if (id == bsp)
			continue;
		uint32_t ran = 0, overwritten = 0;
		for (uint32_t r = 1; r <= ROUNDS; r++) {
			a->cycle = r;
			b->cycle = r;
			burst(id, mode);
			uint64_t t0 = rdtsc();
			while (b->seen[id] != r) {
				GUEST_ASSERT_MSG(rdtsc() - t0 < KIT_TSC_TIMEOUT_STEP,
				                 "init_sipi: AP %u round %u: never started at B (B "
				                 "saw round %u, A round %u)",
				                 id, r, b->seen[id], a->seen[id]);
				cpu_relax();
			}
			/* A from an earlier round must not have run late, after that round's B. */
			if (a->seen[id] == r) {
				GUEST_ASSERT_MSG(a->tsc[id] < b->tsc[id],
				                 "init_sipi: AP %u round %u: A ran after B", id, r);
				ran++;
			} else {
				GUEST_ASSERT_MSG(a->seen[id] == 0xffffffffu || a->seen[id] < r,
				                 "init_sipi: AP %u round %u: A saw round %u", id, r,
				                 a->seen[id]);
				overwritten++;
			}
		}
		GUEST_ASSERT_EQ(b->arrived, (aps + 1) * ROUNDS);
		if (aps < 30)
			GUEST_REPORT(CVM_STAGE_USER, id, ran, overwritten);
		aps++;
		ran_total += ran;
		overwritten_total += overwritten;
	}
	GUEST_ASSERT_EQ(a->arrived, ran_total);
	GUEST_REPORT(CVM_STAGE_USER + 1, aps, ROUNDS, overwritten_total);
	guest_printf("init_sipi: PASS: %u APs x %u rounds, A overwritten in %u, ran first in %u "
	             "(%s)\n",
	             aps, ROUNDS, overwritten_total, ran_total, guest_apic_mode_name(mode));
	GUEST_DONE();
}
