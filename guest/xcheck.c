/*
 * Cross-check guest (tests/sim/xcheck.py): workloads whose lifecycle event
 * counts (INIT and SIPI accepted and discarded, IPIs, halts, wake-ups, timer
 * interrupts) are fixed by construction, whatever the host's timing, so that
 * `corevm run --irqchip user --stats` must report exactly what `corevm sim`
 * reports for its models of the same workloads (scenarios/kvm-xcheck.json).
 *
 * Every vCPU is in x2APIC mode (one ICR write per IPI, no INIT de-assert, as
 * the simulated guests). The APs are started with one broadcast INIT and one
 * broadcast SIPI, never a second SIPI: whether an AP has entered by then is
 * timing. Nothing prints while APs run (the console lock would make waiters
 * halt), no AP ever halts once its work is done (it spins: its last halt would
 * race the end of the VM), and a handler sends its EOI before it bumps the
 * counter others wait for, so that every count is final when the BSP sees it.
 *
 * Command line:
 *   mode=pingpong rounds=N   vCPUs in pairs (APIC IDs 2k, 2k+1; an even count
 *       of vCPUs): each sends N fixed IPIs (vector 0xfb) to its partner. The
 *       even one sends, then sleeps in `sti; hlt` until the answer; the odd one
 *       sleeps until an IPI, then answers. Per vCPU: N halts, each ended by one
 *       interrupt (an answer that comes before the HLT is pending at the HLT,
 *       which still halts and is woken at once), N interrupts, N EOIs.
 *   mode=timer rounds=M delay=NS   every vCPU, M times: a one-shot local APIC
 *       timer (vector 0xec, divide 1: NS ns) armed, then `sti; hlt` until it
 *       fired. Per vCPU: M halts, M timer interrupts, nothing else can wake it.
 *   mode=cycle cycles=K extra=E   the APs start in a real-mode stub (rmstub.h,
 *       vector 0x0a) that spins once it arrived: they never halt. Then K
 *       cycles, each AP in turn: INIT, SIPI, wait until it arrived again, then
 *       E more SIPIs, which the running AP discards. Per AP: K+1 INITs taken,
 *       K+1 SIPIs accepted, K*E SIPIs discarded as running.
 * Reports (ucall): REPORT stage 100 from the BSP at the end, args[1] = the mode
 *   (1 pingpong, 2 timer, 3 cycle), args[2] = vCPUs, args[3] = rounds or cycles;
 *   then DONE. Serial: "xcheck: PASS: <mode> ...".
 */
#include "guest/lib/kit.h"

#define VEC_IPI   0xfb /* as the simulator's ipi-pingpong */
#define VEC_TIMER 0xec /* as the simulator's timer */
#define STUB_VEC  0x0a
#define MAX_CPUS  64

enum mode { M_PINGPONG = 1, M_TIMER, M_CYCLE };

static enum mode mode;
static uint64_t rounds, delay, extra;
static volatile uint32_t go;
static volatile uint32_t got[MAX_CPUS];  /* interrupts taken (EOI sent) per APIC ID */
static volatile uint32_t done[MAX_CPUS]; /* work over, per APIC ID */

static uint64_t arg(const char *key, uint64_t def, uint64_t lo, uint64_t hi)
{
	uint64_t v = def;
	GUEST_ASSERT_MSG(kit_cmdline_u64(guest_boot_cmdline(), key, &v) >= 0 && v >= lo && v <= hi,
	                 "xcheck: %s= must be %lu..%lu", key, lo, hi);
	return v;
}

/* EOI first: a vCPU that sees the count knows the EOI has been counted. */
static void on_interrupt(struct guest_exception_frame *f)
{
	(void)f;
	guest_apic_eoi();
	uint32_t id = guest_apic_id();
	if (id < MAX_CPUS)
		atomic_fetch_add32(&got[id], 1);
}

static void send_ipi(uint32_t dest)
{
	GUEST_ASSERT(guest_apic_send_ipi(dest, APIC_DM_FIXED | APIC_LEVEL_ASSERT | VEC_IPI));
}

static void wait_interrupts(uint32_t id, uint32_t n)
{
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&got[id], n, KIT_TSC_TIMEOUT_STEP),
	                 "xcheck: vcpu %u: %u of %u interrupts", id, got[id], n);
}

/* One vCPU's share of the pingpong or timer mode. */
static void work(uint32_t id)
{
	for (uint32_t i = 1; i <= rounds; i++) {
		if (mode == M_TIMER) {
			guest_timer_oneshot(VEC_TIMER, (uint32_t)delay, 1);
			wait_interrupts(id, i);
		} else if (id % 2 == 0) {
			send_ipi(id + 1);
			wait_interrupts(id, i);
		} else {
			wait_interrupts(id, i);
			send_ipi(id - 1);
		}
	}
}

static void ap_main(unsigned int index, uint32_t id)
{
	(void)index;
	GUEST_ASSERT(id < MAX_CPUS);
	guest_wait_ge(&go, 1, KIT_TSC_TIMEOUT_LONG);
	work(id);
	atomic_store32(&done[id], 1);
	for (;;) /* a halt here would race the end of the VM */
		cpu_relax();
}

/* Boot and the pingpong or timer mode: the kit's trampoline, one INIT and one SIPI. */
static void run_smp(unsigned int n)
{
	guest_set_irq_handler(mode == M_TIMER ? VEC_TIMER : VEC_IPI, on_interrupt);
	guest_smp_prepare(ap_main);
	if (n > 1) {
		guest_smp_send_init(0, APIC_DEST_ALL_BUT_SELF);
		guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, KIT_SIPI_VECTOR);
		/* each AP's APIC is on before anyone sends it an IPI */
		for (unsigned int i = 0; i < n - 1; i++)
			guest_smp_ap_id(i);
	}
	atomic_store32(&go, 1);
	work(0);
	for (uint32_t id = 1; id < n; id++)
		GUEST_ASSERT_MSG(guest_wait_ge(&done[id], 1, KIT_TSC_TIMEOUT_LONG),
		                 "xcheck: vcpu %u did not finish", id);
	for (uint32_t id = 0; id < n; id++)
		GUEST_ASSERT_EQ(got[id], rounds);
}

/* The cycle mode: every restart goes to the spinning stub. */
static void run_cycle(unsigned int n)
{
	struct kit_rmstub *stub = guest_rmstub_install(STUB_VEC);
	uint32_t arrived = n - 1;

	GUEST_ASSERT_MSG(n >= 2, "xcheck: mode=cycle needs at least 2 vCPUs");
	stub->spin = 1;
	guest_smp_send_init(0, APIC_DEST_ALL_BUT_SELF);
	guest_smp_send_sipi(0, APIC_DEST_ALL_BUT_SELF, STUB_VEC);
	GUEST_ASSERT_MSG(guest_wait_ge(&stub->arrived, arrived, KIT_TSC_TIMEOUT_LONG),
	                 "xcheck: %u of %u APs started", stub->arrived, arrived);
	for (uint32_t c = 1; c <= rounds; c++) {
		stub->cycle = c;
		for (uint32_t id = 1; id < n; id++) {
			guest_smp_send_init(id, 0);
			guest_smp_send_sipi(id, 0, STUB_VEC);
			GUEST_ASSERT_MSG(
			        guest_wait_ge(&stub->arrived, ++arrived, KIT_TSC_TIMEOUT_LONG),
			        "xcheck: cycle %u: AP %u did not come back", c, id);
			GUEST_ASSERT_EQ(stub->seen[id], c);
			for (uint64_t e = 0; e < extra; e++) /* it runs: discarded */
				guest_smp_send_sipi(id, 0, STUB_VEC);
		}
	}
	GUEST_ASSERT_EQ(stub->arrived, arrived);
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	static const char *const names[] = {"", "pingpong", "timer", "cycle"};
	unsigned int n = guest_fwcfg_nb_cpus();

	mode = kit_cmdline_is(cmdline, "mode", "pingpong") ? M_PINGPONG
	       : kit_cmdline_is(cmdline, "mode", "timer")  ? M_TIMER
	       : kit_cmdline_is(cmdline, "mode", "cycle")  ? M_CYCLE
	                                                   : 0;
	GUEST_ASSERT_MSG(mode, "xcheck: mode=pingpong|timer|cycle");
	GUEST_ASSERT_MSG(n <= MAX_CPUS, "xcheck: at most %u vCPUs", MAX_CPUS);
	rounds = mode == M_CYCLE ? arg("cycles", 10, 1, 100000) : arg("rounds", 10, 1, 100000);
	delay = arg("delay", 1000000, 1, 0xffffffffu);
	extra = arg("extra", 1, 0, 1000);
	guest_apic_set_mode(GUEST_APIC_X2APIC);
	GUEST_ASSERT_EQ(guest_apic_id(), 0);
	if (mode == M_CYCLE) {
		run_cycle(n);
	} else {
		GUEST_ASSERT_MSG(mode != M_PINGPONG || n % 2 == 0,
		                 "xcheck: mode=pingpong pairs vCPUs: an even count");
		run_smp(n);
	}
	GUEST_REPORT(CVM_STAGE_USER, mode, n, rounds);
	guest_printf("xcheck: PASS: %s on %u vCPUs, %lu %s\n", names[mode], n, rounds,
	             mode == M_CYCLE ? "cycles" : "rounds");
	GUEST_DONE();
}
