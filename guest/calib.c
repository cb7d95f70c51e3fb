/*
 * Calibration guest of `corevm calibrate` (vmm/calibrate.h): gives the host
 * the three situations it times on its own code paths, each phase announced
 * by an 8-bit OUT of the phase number to CVM_PORT_CALIB. Needs 2 vCPUs; prints
 * nothing (the profile may go to standard output).
 *   1 exits: the BSP does `exits` OUTs of 1 to the port back to back (8 in a
 *     row per loop turn: guest instructions are emulated on some hosts, and
 *     an exit should cost one), while the AP sleeps in HLT;
 *   2 kicks: `kicks` times, the AP spins with interrupts on and the BSP sends
 *     it a fixed IPI, which kicks it;
 *   3 wake-ups: `wakes` times the same with the AP in `sti; hlt`.
 * The BSP never spins while the AP is measured: it sleeps in HLT until the
 * AP's answer (a fixed IPI back), then for `gap` ns on a one-shot local APIC
 * timer (so that the AP is back in its loop), then sends the next IPI. Two
 * spinning vCPUs on one busy host CPU would time the host's scheduler, not the
 * kick.
 * Command line: exits=N kicks=N wakes=N (defaults 4000, 200, 200), gap=NS
 * (default 400000).
 * Ends with DONE (an assertion if the AP does not answer in time).
 */
#include "guest/lib/kit.h"

#define VEC_AP         0xfb /* to the AP */
#define VEC_REPLY      0xfa /* the AP's answer */
#define VEC_GAP        0xec /* the BSP's gap timer */
#define X2APIC_ICR_MSR 0x830

static uint64_t exits, kicks, wakes, gap;
static volatile uint32_t got;     /* IPIs the AP took */
static volatile uint32_t replies; /* answers the BSP took */
static volatile uint32_t gaps;    /* gap timers the BSP took */
static uint32_t bsp_id;

static uint64_t arg(const char *key, uint64_t def, uint64_t lo, uint64_t hi)
{
	uint64_t v = def;
	GUEST_ASSERT_MSG(kit_cmdline_u64(guest_boot_cmdline(), key, &v) >= 0 && v >= lo && v <= hi,
	                 "calib: %s= must be %lu..%lu", key, lo, hi);
	return v;
}

static void phase(uint8_t p)
{
	outb(CVM_PORT_CALIB, p);
}

static void count(volatile uint32_t *what)
{
	guest_apic_eoi();
	atomic_fetch_add32(what, 1);
}

static void on_ap(struct guest_exception_frame *f)
{
	(void)f;
	count(&got);
}

static void on_reply(struct guest_exception_frame *f)
{
	(void)f;
	count(&replies);
}

static void on_gap(struct guest_exception_frame *f)
{
	(void)f;
	count(&gaps);
}

static void ipi(uint32_t dest, uint8_t vector)
{
	GUEST_ASSERT(guest_apic_send_ipi(dest, APIC_DM_FIXED | APIC_LEVEL_ASSERT | vector));
}

/* The AP: IPI 1 starts it; it spins for the kicks and halts for the wake-ups. */
static void ap_main(unsigned int index, uint32_t id)
{
	(void)index;
	(void)id;
	for (uint32_t i = 1; i <= 1 + kicks + wakes; i++) {
		if (i > 1 && i <= 1 + kicks)
			GUEST_ASSERT(guest_wait_ge_irq(&got, i, KIT_TSC_TIMEOUT_LONG));
		else
			GUEST_ASSERT(guest_wait_ge_hlt(&got, i, KIT_TSC_TIMEOUT_LONG));
		ipi(bsp_id, VEC_REPLY);
	}
}

/*
 * The IPI to the AP and the BSP's halt, back to back: the BSP's thread goes to
 * sleep right after the kick or wake-up it causes, as a VMM thread that kicks
 * and waits would, instead of competing for a host CPU with the vCPU it kicked
 * for a dozen emulated instructions (about 1 us each here).
 */
static void send_and_halt(uint32_t ap)
{
	uint64_t icr = (uint64_t)ap << 32 | APIC_DM_FIXED | APIC_LEVEL_ASSERT | VEC_AP;

	__asm__ volatile("wrmsr; sti; hlt; cli"
	                 :
	                 : "c"(X2APIC_ICR_MSR), "a"((uint32_t)icr), "d"((uint32_t)(icr >> 32))
	                 : "memory");
}

/* The BSP sleeps until `*what` reaches n. */
static void sleep_until(volatile uint32_t *what, uint32_t n)
{
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(what, n, KIT_TSC_TIMEOUT_LONG),
	                 "calib: waited in vain (AP took %u IPIs, BSP %u answers)", got, replies);
}

void guest_main(void)
{
	exits = arg("exits", 4000, 8, 10000000);
	kicks = arg("kicks", 200, 1, 1000000);
	wakes = arg("wakes", 200, 1, 1000000);
	gap = arg("gap", 400000, 1, 1000000000);
	guest_apic_set_mode(GUEST_APIC_X2APIC);
	bsp_id = guest_apic_id();
	guest_set_irq_handler(VEC_AP, on_ap);
	guest_set_irq_handler(VEC_REPLY, on_reply);
	guest_set_irq_handler(VEC_GAP, on_gap);
	GUEST_ASSERT_MSG(guest_smp_boot(ap_main) == 2, "calib: needs exactly 2 vCPUs");
	uint32_t ap = guest_smp_ap_id(0);

	phase(CVM_CALIB_EXITS);
	for (uint64_t i = 0; i < exits; i += 8) /* each exit one OUT: guest code is emulated here */
		__asm__ volatile(".rept 8; outb %%al, %0; .endr"
		                 :
		                 : "i"(CVM_PORT_CALIB), "a"((uint8_t)CVM_CALIB_EXITS)
		                 : "memory");
	ipi(ap, VEC_AP); /* the AP leaves its first sleep */
	sleep_until(&replies, 1);
	for (uint32_t i = 2; i <= 1 + kicks + wakes; i++) {
		if (i == 2)
			phase(CVM_CALIB_KICKS);
		if (i == 2 + kicks)
			phase(CVM_CALIB_WAKES);
		guest_timer_oneshot(VEC_GAP, (uint32_t)gap, 1);
		sleep_until(&gaps, i - 1);
		send_and_halt(ap);
		sleep_until(&replies, i);
	}
	phase(CVM_CALIB_OFF);
	GUEST_DONE();
}
