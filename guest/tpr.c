/*
 * Task-priority test guest (BSP only, self-IPIs): an interrupt whose priority
 * class (vector >> 4) is not above the processor priority stays pending in IRR
 * until the priority drops.
 *   1. TPR 0x50, self-IPI 0x45 (class 4): stays pending (IRR set, no handler)
 *      through a window with interrupts on;
 *   2. self-IPI 0x65 (class 6): delivered at once, 0x45 still pending;
 *   3. TPR 0x40: 0x45 still pending (class 4 is not above 4);
 *   4. self-IPI 0x55 (class 5): delivered, 0x45 still pending;
 *   5. TPR 0x30: 0x45 delivered;
 *   6. (with "inservice" on the command line) TPR 0: while the handler of 0x65
 *      runs (0x65 in service, so the processor priority is 0x60), a self-IPI
 *      0x55 sent from it stays pending through a window with interrupts on;
 *      it is delivered after the EOI. Optional because this project's KVM
 *      (kernel and split irqchip) keeps no in-service register: ISR reads 0
 *      in the handler and 0x55 is delivered nested (see guest/README.md).
 * The order of deliveries must be 0x65, 0x55, 0x45 (then 0x65, 0x55).
 * Command line: apic=xapic|x2apic (default xapic), inservice.
 *
 * Reports (ucall): per step: REPORT stage 100, args[1] = step (1..6),
 *   args[2] = deliveries so far, args[3] = 1 if 0x45 is pending in IRR;
 *   REPORT stage 101, args[1] = deliveries (3, or 5 with inservice), args[2] =
 *   the delivery order packed one vector per byte, first delivery in the lowest
 *   byte (0x455565, or 0x5565455565); then DONE.
 * Serial: "tpr: PASS: order 65 55 45[ 65 55] (<apic>)".
 */
#include "guest/lib/kit.h"

#define V4 0x45
#define V5 0x55
#define V6 0x65

static volatile uint32_t delivered;
static volatile uint8_t order[8];
static volatile bool nested_step;
static volatile uint32_t during_handler; /* deliveries seen while 0x65 was in service */

static void on_ipi(struct guest_exception_frame *f)
{
	uint32_t n = delivered;
	if (n < ARRAY_SIZE(order))
		order[n] = (uint8_t)f->vector;
	delivered = n + 1;
	if (f->vector == V6 && nested_step) {
		/* 0x65 in service: 0x55 must wait for its EOI even with interrupts on. */
		GUEST_ASSERT(guest_apic_self_ipi(V5));
		uint32_t before = delivered;
		guest_irq_window(KIT_TSC_WINDOW);
		during_handler = delivered - before;
		GUEST_ASSERT_MSG(guest_apic_irr(V5) && !during_handler,
		                 "tpr: 0x55 not pending while 0x65 in service (%u delivered "
		                 "meanwhile; ISR[0x65] %u, PPR 0x%x)",
		                 during_handler, guest_apic_isr(V6), guest_apic_read(APIC_REG_PPR));
	}
	guest_apic_eoi();
}

static void step(uint32_t number, uint32_t want_delivered, bool want_v4_pending)
{
	bool pending = guest_apic_irr(V4);
	GUEST_ASSERT_MSG(delivered == want_delivered, "tpr: step %u: %u deliveries, want %u",
	                 number, delivered, want_delivered);
	GUEST_ASSERT_MSG(pending == want_v4_pending, "tpr: step %u: 0x45 %s pending", number,
	                 pending ? "still" : "not");
	GUEST_REPORT(CVM_STAGE_USER, number, delivered, pending);
}

void guest_main(void)
{
	const char *cmdline = guest_boot_cmdline();
	enum guest_apic_mode mode = guest_apic_mode_from_cmdline();
	bool inservice = kit_cmdline_has(cmdline, "inservice");
	guest_apic_set_mode(mode);
	guest_set_irq_handler(V4, on_ipi);
	guest_set_irq_handler(V5, on_ipi);
	guest_set_irq_handler(V6, on_ipi);

	guest_apic_set_tpr(0x50);
	GUEST_ASSERT(guest_apic_self_ipi(V4));
	guest_irq_window(KIT_TSC_WINDOW);
	step(1, 0, true);

	GUEST_ASSERT(guest_apic_self_ipi(V6));
	GUEST_ASSERT(guest_wait_ge_hlt(&delivered, 1, KIT_TSC_TIMEOUT_STEP));
	guest_irq_window(KIT_TSC_WINDOW);
	step(2, 1, true);

	guest_apic_set_tpr(0x40);
	guest_irq_window(KIT_TSC_WINDOW);
	step(3, 1, true);

	GUEST_ASSERT(guest_apic_self_ipi(V5));
	GUEST_ASSERT(guest_wait_ge_hlt(&delivered, 2, KIT_TSC_TIMEOUT_STEP));
	guest_irq_window(KIT_TSC_WINDOW);
	step(4, 2, true);

	guest_apic_set_tpr(0x30);
	GUEST_ASSERT(guest_wait_ge_hlt(&delivered, 3, KIT_TSC_TIMEOUT_STEP));
	step(5, 3, false);

	unsigned int n = 3;
	if (inservice) {
		guest_apic_set_tpr(0);
		nested_step = true;
		GUEST_ASSERT(guest_apic_self_ipi(V6));
		GUEST_ASSERT(guest_wait_ge_hlt(&delivered, 5, KIT_TSC_TIMEOUT_STEP));
		nested_step = false;
		step(6, 5, false);
		n = 5;
	}

	static const uint8_t want[5] = {V6, V5, V4, V6, V5};
	uint64_t packed = 0;
	char text[16];
	for (unsigned int i = 0; i < n; i++) {
		GUEST_ASSERT_MSG(order[i] == want[i], "tpr: delivery %u was 0x%x, want 0x%x", i,
		                 order[i], want[i]);
		packed |= (uint64_t)order[i] << (8 * i);
		guest_snprintf(text + 3 * i, sizeof(text) - 3 * i, " %x", order[i]);
	}
	GUEST_REPORT(CVM_STAGE_USER + 1, delivered, packed, 0);
	guest_printf("tpr: PASS: order%s (%s)\n", text, guest_apic_mode_name(mode));
	GUEST_DONE();
}
