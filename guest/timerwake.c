/*
 * Timer wake-up measurement guest, for bench/irqchip/timer.sh: every vCPU arms
 * its local APIC timer in TSC-deadline mode `delta` TSC ticks ahead (vector
 * 0xf0, the kit's wake-up vector, whose handler only sends EOI), halts with
 * interrupts on, and once the timer has fired (IA32_TSC_DEADLINE reads 0) takes
 * the TSC of its last wake-up: how late the wake-up was, handler included.
 * All vCPUs measure at the same time.
 *
 * Command line: n=N rounds per vCPU (default 100, 1..256), delta=TICKS (default
 * 100000).
 * Reports (ucall), each vCPU once: REPORT stage 100, args[1] = median ticks
 *   late, args[2] = 90th percentile, args[3] = rounds.
 * Serial: "timerwake: vcpu <apic id>: median <t> p90 <t> ticks late (<n> rounds)"
 *   per vCPU; then DONE.
 * Fails (ASSERT) when a wake-up comes before its deadline.
 */
#include "guest/lib/kit.h"

#define MAX_ROUNDS 256
#define LVT_TIMER  0x320
#define TSC_DL     0x40000u
#define MSR_TSC_DL 0x6e0

static uint64_t rounds = 100, delta = 100000;

static uint64_t arg(const char *key, uint64_t def, uint64_t lo, uint64_t hi)
{
	const char *val;
	size_t len;
	uint64_t v;

	if (!kit_cmdline_find(guest_boot_cmdline(), key, &val, &len))
		return def;
	GUEST_ASSERT_MSG(kit_parse_u64(val, len, &v) && v >= lo && v <= hi,
	                 "timerwake: bad %s= on the command line", key);
	return v;
}

static void measure(void)
{
	uint64_t late[MAX_ROUNDS];
	uint32_t id = guest_apic_id();

	guest_apic_write(LVT_TIMER, TSC_DL | KIT_WAKE_VECTOR);
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t deadline = rdtsc() + delta, woke;
		wrmsr(MSR_TSC_DL, deadline);
		do {
			__asm__ volatile("sti; hlt; cli" : : : "memory");
			woke = rdtsc();
		} while (rdmsr(MSR_TSC_DL) != 0);
		GUEST_ASSERT_MSG(woke >= deadline, "timerwake: woke %llu ticks early",
		                 (unsigned long long)(deadline - woke));
		/* Insertion sort as we go: a few thousand steps. */
		uint64_t i = r, v = woke - deadline;
		for (; i > 0 && late[i - 1] > v; i--)
			late[i] = late[i - 1];
		late[i] = v;
	}
	uint64_t med = late[rounds / 2], p90 = late[rounds * 9 / 10];
	GUEST_REPORT(100, med, p90, rounds);
	guest_printf("timerwake: vcpu %u: median %llu p90 %llu ticks late (%llu rounds)\n", id,
	             (unsigned long long)med, (unsigned long long)p90, (unsigned long long)rounds);
}

static void ap_main(unsigned int index, uint32_t apic_id)
{
	(void)index;
	(void)apic_id;
	measure();
}

void guest_main(void)
{
	unsigned int ncpus = guest_fwcfg_nb_cpus();

	rounds = arg("n", 100, 1, MAX_ROUNDS);
	delta = arg("delta", 100000, 1, 1ull << 40);
	guest_smp_prepare(ap_main);
	if (ncpus > 1)
		GUEST_ASSERT_EQ(guest_smp_start_all(ncpus - 1, KIT_TSC_TIMEOUT_LONG), ncpus - 1);
	measure();
	GUEST_ASSERT(guest_smp_wait_finished(ncpus - 1, KIT_TSC_TIMEOUT_LONG));
	GUEST_DONE();
}
