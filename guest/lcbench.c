/*
 * Lifecycle micro-benchmarks (bench/lifecycle), measured in the guest with the
 * TSC. Command line: op=pio|ipi|timer (default pio), n=N repetitions (default
 * 2000 for pio, 200 otherwise; 1..100000).
 *   pio    N OUTs of one byte to the unclaimed port 0x80, in 16 batches: TSC
 *          ticks per OUT (each is one VM exit to the VMM and back), median of
 *          the batches;
 *   ipi    round trip: the BSP sends a fixed IPI (0x60) to AP 0 and sleeps in
 *          HLT until AP 0's handler answers with a fixed IPI (0x61): ticks
 *          from the send to the BSP's handler, median of N (needs 2 vCPUs);
 *   timer  HLT-to-wake: TSC-deadline timer 2^20 ticks ahead (~0.4 ms), HLT;
 *          ticks from the deadline to the timer handler, median of N.
 * The result is one serial line
 *   "LCBENCH <op> n=<N> median=<ticks> min=<ticks> max=<ticks>"
 * (ticks of the guest TSC; the bench script converts them with the TSC
 * frequency), then REPORT stage 100, args[1] = op (1 pio, 2 ipi, 3 timer),
 * args[2] = median, args[3] = N, and DONE.
 */
#include "guest/lib/kit.h"

#define PORT      0x80
#define BATCHES   16
#define VEC_PING  0x60
#define VEC_PONG  0x61
#define VEC_TIMER 0x62
#define MAX_N     100000
#define AHEAD     (1ull << 20)

static uint64_t samples[MAX_N < 4096 ? MAX_N : 4096];
static volatile uint32_t pongs, ticks_fired, ap_ready;
static volatile uint64_t t_event;
static uint32_t bsp_id;

static void on_ping(struct guest_exception_frame *f)
{
	(void)f;
	guest_apic_eoi();
	guest_apic_send_ipi(bsp_id, APIC_DM_FIXED | APIC_LEVEL_ASSERT | VEC_PONG);
}

static void on_event(struct guest_exception_frame *f)
{
	t_event = rdtsc();
	if (f->vector == VEC_PONG)
		pongs++;
	else
		ticks_fired++;
	guest_apic_eoi();
}

static void ap_main(unsigned int index, uint32_t id)
{
	if (index)
		return;
	atomic_store32(&ap_ready, 1);
	for (;;)
		sti_hlt_cli();
}

static unsigned int bench_pio(unsigned int n)
{
	unsigned int per = n / BATCHES ? n / BATCHES : 1;
	for (unsigned int b = 0; b < BATCHES; b++) {
		uint64_t t0 = rdtsc();
		for (unsigned int i = 0; i < per; i++)
			outb(PORT, (uint8_t)i);
		samples[b] = (rdtsc() - t0) / per;
	}
	return BATCHES;
}

static unsigned int bench_ipi(unsigned int n)
{
	GUEST_ASSERT_MSG(guest_fwcfg_nb_cpus() >= 2, "lcbench: op=ipi needs 2 vCPUs");
	guest_set_irq_handler(VEC_PING, on_ping);
	guest_set_irq_handler(VEC_PONG, on_event);
	guest_smp_boot(ap_main);
	GUEST_ASSERT(guest_wait_ge(&ap_ready, 1, KIT_TSC_TIMEOUT_LONG));
	uint32_t ap = guest_smp_ap_id(0);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t t0 = rdtsc();
		GUEST_ASSERT(guest_apic_send_ipi(ap, APIC_DM_FIXED | APIC_LEVEL_ASSERT | VEC_PING));
		GUEST_ASSERT_MSG(guest_wait_ge_hlt(&pongs, i + 1, KIT_TSC_TIMEOUT_STEP),
		                 "lcbench: ping %u never answered", i);
		samples[i] = t_event - t0;
	}
	return n;
}

static unsigned int bench_timer(unsigned int n)
{
	guest_set_irq_handler(VEC_TIMER, on_event);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t deadline = rdtsc() + AHEAD;
		guest_timer_deadline(VEC_TIMER, deadline);
		GUEST_ASSERT_MSG(guest_wait_ge_hlt(&ticks_fired, i + 1, KIT_TSC_TIMEOUT_STEP),
		                 "lcbench: timer %u never fired", i);
		samples[i] = t_event - deadline;
	}
	guest_timer_stop();
	return n;
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	uint64_t n64 = 0;
	unsigned int op = kit_cmdline_is(cmdline, "op", "ipi")     ? 2
	                  : kit_cmdline_is(cmdline, "op", "timer") ? 3
	                                                           : 1;
	static const char *const names[4] = {"", "pio", "ipi", "timer"};
	int has_n = kit_cmdline_u64(cmdline, "n", &n64);
	GUEST_ASSERT_MSG(has_n == 0 || (has_n > 0 && n64 >= 1 && n64 <= MAX_N),
	                 "lcbench: n must be 1..%u", MAX_N);
	unsigned int n = n64 ? (unsigned int)n64 : op == 1 ? 2000 : 200;
	if (op != 1 && n > ARRAY_SIZE(samples))
		n = ARRAY_SIZE(samples);
	bsp_id = guest_apic_id();

	unsigned int k = op == 1 ? bench_pio(n) : op == 2 ? bench_ipi(n) : bench_timer(n);
	uint64_t med = kit_median_u64(samples, k);
	guest_printf("LCBENCH %s n=%u median=%lu min=%lu max=%lu\n", names[op], n, med, samples[0],
	             samples[k - 1]);
	GUEST_REPORT(CVM_STAGE_USER, op, med, n);
	GUEST_DONE();
}
