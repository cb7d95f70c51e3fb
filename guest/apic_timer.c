/*
 * Local APIC timer test guest: each mode of the timer wakes the BSP from HLT.
 *   oneshot:  initial count 100000, divide 16: the current count starts at or
 *             below the initial count, the interrupt wakes the HLT once, then
 *             the current count reads 0 and no second interrupt follows;
 *   periodic: the same count, periodic: at least 3 interrupts, each waking a
 *             HLT; once stopped (masked, count 0) no further interrupt but the
 *             one already waiting in the IRR, if any;
 *   deadline: TSC-deadline (MSR 0x6e0) at now + 2^20 ticks: the interrupt wakes
 *             the HLT no earlier than the deadline, and the MSR then reads 0;
 *             a deadline already in the past fires at once; writing 0 disarms
 *             (a far deadline, cleared, never fires).
 * Command line: mode=oneshot|periodic|deadline|all (default all), apic=xapic|x2apic
 * (default xapic). The timer vector is 0x60; interrupts are on only while halted.
 *
 * Reports (ucall), BSP only:
 *   per mode run: REPORT stage 100, args[1] = mode (1 oneshot, 2 periodic,
 *     3 deadline), args[2] = interrupts taken, args[3] = HLTs executed
 *   deadline: REPORT stage 101, args[1] = TSC ticks from the deadline to the
 *     wake-up, args[2] = 1 when the past deadline fired, args[3] = interrupts
 *     after disarming (0)
 *   then DONE.
 * Serial: "apic_timer: <mode>: ..." per mode, "apic_timer: PASS (<apic>)".
 */
#include "guest/lib/kit.h"

#define VEC_TIMER 0x60
#define COUNT     100000u
#define DIVIDE    16u
#define DEADLINE  (1ull << 20)

enum { ONESHOT = 1, PERIODIC = 2, DEADLINE_MODE = 3 };

static volatile uint32_t fired;
static volatile uint64_t fired_tsc;

static void on_timer(struct guest_exception_frame *f)
{
	(void)f;
	fired_tsc = rdtsc();
	fired++;
	guest_apic_eoi();
}

/* Sleeps in HLT until `target` interrupts arrived; returns the HLTs executed. */
static uint32_t sleep_until(uint32_t target)
{
	uint32_t hlts = 0;
	uint64_t t0 = rdtsc();
	while (fired < target) {
		GUEST_ASSERT_MSG(rdtsc() - t0 < KIT_TSC_TIMEOUT_STEP,
		                 "apic_timer: %u of %u interrupts", fired, target);
		hlts++;
		sti_hlt_cli();
	}
	return hlts;
}

static void oneshot(void)
{
	fired = 0;
	guest_timer_oneshot(VEC_TIMER, COUNT, DIVIDE);
	uint32_t ccr = guest_timer_current();
	GUEST_ASSERT_MSG(ccr <= COUNT, "apic_timer: current count %u above initial %u", ccr, COUNT);
	uint32_t hlts = sleep_until(1);
	GUEST_ASSERT_EQ(guest_timer_current(), 0);
	guest_irq_window(KIT_TSC_WINDOW);
	GUEST_ASSERT_MSG(fired == 1, "apic_timer: one-shot fired %u times", fired);
	guest_timer_stop();
	GUEST_REPORT(CVM_STAGE_USER, ONESHOT, fired, hlts);
	guest_printf("apic_timer: oneshot: 1 interrupt, %u HLTs\n", hlts);
}

static void periodic(void)
{
	fired = 0;
	guest_timer_periodic(VEC_TIMER, COUNT, DIVIDE);
	uint32_t hlts = sleep_until(3);
	guest_timer_stop();
	/*
	 * A tick that reached the IRR before the stop (interrupts are off here)
	 * is still delivered: exactly that one may follow, nothing else.
	 */
	uint32_t after_stop = fired + guest_apic_irr(VEC_TIMER);
	guest_irq_window(KIT_TSC_WINDOW);
	GUEST_ASSERT_MSG(fired == after_stop, "apic_timer: %d interrupts after the timer stopped",
	                 (int)(fired - after_stop));
	GUEST_REPORT(CVM_STAGE_USER, PERIODIC, fired, hlts);
	guest_printf("apic_timer: periodic: %u interrupts, %u HLTs\n", fired, hlts);
}

static void deadline(void)
{
	fired = 0;
	uint64_t dl = rdtsc() + DEADLINE;
	guest_timer_deadline(VEC_TIMER, dl);
	uint32_t hlts = sleep_until(1);
	uint64_t woke = rdtsc();
	GUEST_ASSERT_MSG(fired_tsc >= dl, "apic_timer: TSC-deadline fired %lu ticks early",
	                 dl - fired_tsc);
	GUEST_ASSERT_EQ(rdmsr(MSR_IA32_TSC_DEADLINE), 0);
	GUEST_REPORT(CVM_STAGE_USER, DEADLINE_MODE, fired, hlts);

	/* A deadline in the past fires at once. */
	guest_timer_deadline(VEC_TIMER, rdtsc() - 1);
	sleep_until(2);

	/* Writing 0 disarms. */
	guest_timer_deadline(VEC_TIMER, rdtsc() + (1ull << 40));
	wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	guest_irq_window(KIT_TSC_WINDOW);
	uint32_t after_disarm = fired - 2;
	GUEST_ASSERT_MSG(after_disarm == 0, "apic_timer: a disarmed deadline fired");
	guest_timer_stop();
	GUEST_REPORT(CVM_STAGE_USER + 1, woke - dl, 1, after_disarm);
	guest_printf("apic_timer: deadline: woke %lu ticks after the deadline, %u HLTs\n",
	             woke - dl, hlts);
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	bool all = !kit_cmdline_has(cmdline, "mode") || kit_cmdline_is(cmdline, "mode", "all");

	guest_apic_set_mode(mode);
	guest_set_irq_handler(VEC_TIMER, on_timer);
	if (all || kit_cmdline_is(cmdline, "mode", "oneshot"))
		oneshot();
	if (all || kit_cmdline_is(cmdline, "mode", "periodic"))
		periodic();
	if (all || kit_cmdline_is(cmdline, "mode", "deadline"))
		deadline();
	guest_printf("apic_timer: PASS (%s)\n", guest_apic_mode_name(mode));
	GUEST_DONE();
}
