/*
 * Hostile GHCB MSR and SIPI/INIT test guest (docs/protected-state.md): the
 * guest does what a buggy or malicious guest could, and checks that corevm
 * answers as the protocol and the architecture say and keeps running.
 * Needs 3 vCPUs or more; vCPU 1 parks by AP reset hold, vCPU 2 runs a
 * heartbeat loop, further vCPUs park like vCPU 1.
 *   1. The BSP reads the GHCB MSR (0 before any write), then writes
 *      `garbage=N` values (default 200) that are no valid request: unknown
 *      codes, responses written as requests, AP reset hold with data bits
 *      set, all ones, pseudo-random values; after each write the MSR must
 *      read back unchanged (corevm answers unsupported requests by leaving
 *      the value as written) and neither access may fault.
 *   2. The APs start at the kit's measured entry (hold.h).
 *   3. SIPI storm: 50 SIPIs to each AP (vectors of a real-mode trap stub):
 *      the held AP stays held, the running AP keeps beating, nobody enters
 *      the stub.
 *   4. INIT without SIPI, three times, to the running AP; then one SIPI to
 *      the trap stub. With `protected` (corevm runs --protected-state) the
 *      SIPI vector is ignored: the AP resumes its loop where it was (no
 *      stub, no second measured entry). Without, it starts in the stub (the
 *      architecture), and the BSP restarts it with INIT-SIPI to its measured
 *      entry.
 *   5. INIT without SIPI, three times, to each held AP: no wake; then SIPI
 *      (and INIT-SIPI again while it has not reported, see reset_hold.c):
 *      it wakes once, its registers intact (checked by the AP).
 *   6. A second SIPI storm like 3.
 * Reports (ucall), from the BSP:
 *   REPORT stage 100: args[1] = garbage values written, args[2] = reads that
 *     returned the value written, args[3] = faults (0)
 *   REPORT stage 101 per AP: args[1] = vCPU, args[2] = SIPIs the BSP sent it,
 *     args[3] = INITs it sent it
 *   REPORT stage 102: args[1] = held APs that woke, args[2] = measured
 *     entries of the running AP, args[3] = trap stub arrivals
 *   then DONE.
 */
#include "guest/lib/hold.h"
#include "guest/lib/kit.h"

#define STORM      50
#define STUB_VEC   0x0b
#define BEATS      200
#define RESEND_TSC (1ull << 27)
#define RUNNER     2u /* the vCPU that runs a heartbeat; every other AP parks */

static volatile uint32_t heartbeat, parked[KIT_MAX_APS + 1], wakes[KIT_MAX_APS + 1];
static uint32_t sipis[KIT_MAX_APS + 1], inits[KIT_MAX_APS + 1];

static void ap_main(unsigned int vcpu, unsigned int entries)
{
	struct guest_hold_result res;

	(void)entries;
	if (vcpu == RUNNER)
		for (;;) {
			atomic_fetch_add32(&heartbeat, 1);
			cpu_relax();
		}
	for (;;) {
		atomic_store32(&parked[vcpu], atomic_load32(&wakes[vcpu]) + 1);
		guest_ap_reset_hold_checked(&res);
		if (res.bad_regs)
			GUEST_FAIL(
			        "ghcb_hostile: vcpu %u: registers changed across the hold (0x%x)",
			        vcpu, res.bad_regs);
		if (res.woken)
			atomic_fetch_add32(&wakes[vcpu], 1);
	}
}

static void send_sipi(uint32_t vcpu, uint8_t vector)
{
	guest_smp_send_sipi(vcpu, 0, vector);
	sipis[vcpu]++;
}

static void send_init(uint32_t vcpu)
{
	guest_smp_send_init(vcpu, 0);
	inits[vcpu]++;
}

static void beats(const char *after)
{
	uint32_t from = atomic_load32(&heartbeat);
	GUEST_ASSERT_MSG(guest_wait_ge(&heartbeat, from + BEATS, KIT_TSC_TIMEOUT_STEP),
	                 "ghcb_hostile: the running AP stopped after %s (heartbeat %u)", after,
	                 heartbeat);
}

/* Step 1: garbage written to the GHCB MSR; returns how many values. */
static uint32_t garbage(uint64_t n)
{
	static const uint64_t fixed[] = {
	        0x000,                 /* a GHCB page address (no VMGEXIT here) */
	        0x001,                 /* SEV information response */
	        0x002,                 /* SEV information request */
	        (1ull << 32) | 0x004,  /* CPUID request */
	        0x005,                 /* CPUID response */
	        0x007,                 /* AP reset hold response, as a request */
	        (1ull << 12) | 0x007,  /* a "woken" response, as a request */
	        (1ull << 12) | 0x006,  /* AP reset hold with data: malformed */
	        ~0xfffull | 0x006,     /* the same, all data bits */
	        0x8000000000000006ull, /* the same, the top bit */
	        0x012,                 /* GHCB GPA registration */
	        0x080,                 /* hypervisor features */
	        (3ull << 16) | 0x100,  /* termination request */
	        0xfff,
	        ~0ull,
	        0x0123456789abcdefull,
	};
	uint64_t x = rdtsc() | 1, v, back;
	uint32_t faults = 0, same = 0, count = 0;

	GUEST_ASSERT_EQ(guest_rdmsr_safe(KIT_MSR_GHCB, &back), 0);
	GUEST_ASSERT_MSG(back == 0, "ghcb_hostile: GHCB MSR reads 0x%lx before any write", back);
	for (uint64_t i = 0; i < n; i++) {
		if (i < sizeof(fixed) / sizeof(fixed[0])) {
			v = fixed[i];
		} else {
			x ^= x << 13; /* xorshift64 */
			x ^= x >> 7;
			x ^= x << 17;
			v = x;
			if ((v & KIT_GHCB_INFO_MASK) == KIT_GHCB_HOLD_REQUEST && !(v >> 12))
				v |= 1ull << 40; /* a well-formed hold would park the BSP */
		}
		faults += guest_wrmsr_safe(KIT_MSR_GHCB, v) != 0;
		faults += guest_rdmsr_safe(KIT_MSR_GHCB, &back) != 0;
		same += back == v;
		count++;
	}
	GUEST_REPORT(CVM_STAGE_USER, count, same, faults);
	GUEST_ASSERT_MSG(faults == 0 && same == count,
	                 "ghcb_hostile: %u faults, %u of %u values read back", faults, same, count);
	return count;
}

/* INIT (and SIPI) held AP `v` until it reports one more wake. */
static void wake(unsigned int v, uint32_t before)
{
	uint64_t deadline = rdtsc() + KIT_TSC_TIMEOUT_LONG;

	send_sipi(v, KIT_MEASURED_SIPI_VECTOR);
	while (!guest_wait_ge(&wakes[v], before + 1, RESEND_TSC)) {
		GUEST_ASSERT_MSG(rdtsc() < deadline, "ghcb_hostile: held vcpu %u never woke", v);
		send_init(v);
		send_sipi(v, KIT_MEASURED_SIPI_VECTOR);
	}
}

static void storm(unsigned int n)
{
	for (unsigned int k = 0; k < STORM; k++)
		for (unsigned int v = 1; v < n; v++)
			send_sipi(v, (uint8_t)(KIT_RMSTUB_FIRST_VEC + (k + v) % 6));
}

void guest_main(void)
{
	const char *cmd = guest_boot_cmdline();
	bool prot = kit_cmdline_has(cmd, "protected");
	unsigned int n = guest_fwcfg_nb_cpus();
	uint64_t ngarbage = 200;
	uint32_t woke = 0, arrivals;

	GUEST_ASSERT_MSG(kit_cmdline_u64(cmd, "garbage", &ngarbage) >= 0 && ngarbage <= 100000,
	                 "ghcb_hostile: bad garbage=");
	GUEST_ASSERT_MSG(n >= 3 && n - 1 <= KIT_MAX_APS, "ghcb_hostile: needs 3..256 vCPUs, has %u",
	                 n);
	garbage(ngarbage);

	guest_measured_prepare(ap_main);
	struct kit_rmstub *stubs[6];
	for (unsigned int k = 0; k < 6; k++)
		stubs[k] = guest_rmstub_install((uint8_t)(KIT_RMSTUB_FIRST_VEC + k));
	guest_smp_send_init(0, APIC_DEST_ALL_BUT_SELF);
	for (unsigned int v = 1; v < n; v++)
		inits[v]++;
	for (int twice = 0; twice < 2; twice++) {
		guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, KIT_MEASURED_SIPI_VECTOR);
		for (unsigned int v = 1; v < n; v++)
			sipis[v]++;
		if (!twice)
			guest_wait_ge(&heartbeat, 1, KIT_TSC_SIPI_GAP);
	}
	beats("start-up");
	for (unsigned int v = 1; v < n; v++)
		if (v != RUNNER)
			GUEST_ASSERT_MSG(guest_wait_ge(&parked[v], 1, KIT_TSC_TIMEOUT_LONG),
			                 "ghcb_hostile: vcpu %u never parked", v);

	storm(n);
	beats("a SIPI storm");

	for (int i = 0; i < 3; i++)
		send_init(RUNNER);
	send_sipi(RUNNER, STUB_VEC);
	if (prot) {
		beats("INIT, INIT, INIT, SIPI (protected: resumes)");
		GUEST_ASSERT_EQ(guest_measured_entries(RUNNER), 1);
	} else {
		struct kit_rmstub *s = stubs[STUB_VEC - KIT_RMSTUB_FIRST_VEC];
		GUEST_ASSERT_MSG(guest_wait_ge(&s->arrived, 1, KIT_TSC_TIMEOUT_STEP),
		                 "ghcb_hostile: the INIT-ed running AP did not start at the SIPI "
		                 "vector");
		send_init(RUNNER);
		send_sipi(RUNNER, KIT_MEASURED_SIPI_VECTOR);
		GUEST_ASSERT_MSG(
		        guest_measured_wait(RUNNER, 2, KIT_TSC_TIMEOUT_STEP),
		        "ghcb_hostile: the running AP did not restart at its measured entry");
		beats("the restart");
	}

	for (unsigned int v = 1; v < n; v++) {
		if (v == RUNNER)
			continue;
		uint32_t before = atomic_load32(&wakes[v]);
		for (int i = 0; i < 3; i++)
			send_init(v);
		GUEST_ASSERT_MSG(atomic_load32(&wakes[v]) == before,
		                 "ghcb_hostile: vcpu %u woke from INIT alone", v);
		wake(v, before);
		woke++; /* a resend may wake it once more: count APs, not wakes */
	}

	storm(n);
	beats("a second SIPI storm");

	arrivals = 0;
	for (unsigned int k = 0; k < 6; k++)
		arrivals += atomic_load32(&stubs[k]->arrived);
	for (unsigned int v = 1; v < n; v++)
		GUEST_REPORT(CVM_STAGE_USER + 1, v, sipis[v], inits[v]);
	GUEST_REPORT(CVM_STAGE_USER + 2, woke, guest_measured_entries(RUNNER), arrivals);
	GUEST_ASSERT_MSG(arrivals == (prot ? 0u : 1u), "ghcb_hostile: %u starts in the trap stubs",
	                 arrivals);
	guest_printf("ghcb_hostile: PASS: %lu garbage values, 2 storms of %u SIPIs, %u wakes\n",
	             ngarbage, STORM, woke);
	GUEST_DONE();
}
