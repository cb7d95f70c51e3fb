/*
 * APIC mode-transition test guest (BSP only): IA32_APIC_BASE (MSR 0x1b) moves
 * the local APIC between disabled, xAPIC and x2APIC. The SDM allows
 * disabled <-> xAPIC, xAPIC -> x2APIC and x2APIC -> disabled; every other write
 * (x2APIC -> xAPIC directly, disabled -> x2APIC directly, EN=0 with EXTD=1, a
 * reserved bit) raises #GP and changes nothing. Each write goes through the
 * kit's guest_wrmsr_safe(), which catches the #GP. Steps, in order:
 *   1 xAPIC: read of an x2APIC MSR (0x802)     -> #GP
 *   2 xAPIC -> x2APIC                           -> ok; ID unchanged; self-IPI via SELF IPI MSR
 *   3 x2APIC -> xAPIC (EN=1, EXTD=0)            -> #GP, still x2APIC
 *   4 x2APIC -> EN=0, EXTD=1 (invalid)          -> #GP, still x2APIC
 *   5 x2APIC -> disabled                        -> ok; x2APIC MSR read -> #GP
 *   6 disabled -> x2APIC (EN=1, EXTD=1)         -> #GP, still disabled
 *   7 disabled -> xAPIC                         -> ok; ID unchanged; self-IPI via ICR
 *   8 xAPIC: reserved bit 9 set                 -> #GP, still xAPIC
 *   9 xAPIC -> disabled -> xAPIC                -> ok, ok
 *
 * Reports (ucall): per step: REPORT stage 100, args[1] = step, args[2] =
 *   vector raised (13) or 0, args[3] = APIC mode after (0 disabled, 1 xAPIC,
 *   2 x2APIC); REPORT stage 101, args[1] = steps (9), args[2] = #GPs (5),
 *   args[3] = self-IPIs delivered (2); then DONE.
 * Serial: "apic_mode: step <n>: <what>: <ok|#GP>, now <mode>" per step, then
 *   "apic_mode: PASS: 9 steps, 5 #GP".
 */
#include "guest/lib/kit.h"

#define VEC       0x48
#define BASE_RSVD (1u << 9)

static volatile uint32_t delivered;
static uint32_t gps, steps;
static uint32_t id0;

static void on_ipi(struct guest_exception_frame *f)
{
	(void)f;
	delivered++;
	guest_apic_eoi();
}

static void step(const char *what, unsigned int vector, unsigned int want_vector,
                 enum guest_apic_mode want_mode)
{
	enum guest_apic_mode mode = guest_apic_mode();
	steps++;
	gps += vector == 13;
	GUEST_REPORT(CVM_STAGE_USER, steps, vector, mode);
	guest_printf("apic_mode: step %u: %s: %s, now %s\n", steps, what, vector ? "#GP" : "ok",
	             guest_apic_mode_name(mode));
	GUEST_ASSERT_MSG(vector == want_vector, "apic_mode: step %u (%s) raised vector %u, want %u",
	                 steps, what, vector, want_vector);
	GUEST_ASSERT_MSG(mode == want_mode, "apic_mode: step %u (%s) left the APIC %s, want %s",
	                 steps, what, guest_apic_mode_name(mode), guest_apic_mode_name(want_mode));
}

/* Software-enables the APIC in its new mode, checks the ID and that a self-IPI arrives. */
static void check_enabled(void)
{
	uint32_t before = delivered;
	guest_apic_set_mode(guest_apic_mode());
	GUEST_ASSERT_EQ(guest_apic_id(), id0);
	GUEST_ASSERT(guest_apic_self_ipi(VEC));
	GUEST_ASSERT_MSG(guest_wait_ge_hlt(&delivered, before + 1, KIT_TSC_TIMEOUT_STEP),
	                 "apic_mode: self-IPI lost in %s mode",
	                 guest_apic_mode_name(guest_apic_mode()));
}

static unsigned int set_base(uint64_t base)
{
	return guest_wrmsr_safe(MSR_IA32_APIC_BASE, base);
}

void guest_main(void)
{
	GUEST_ASSERT_MSG(guest_x2apic_supported(), "apic_mode: the VMM offers no x2APIC");
	guest_apic_set_mode(GUEST_APIC_XAPIC);
	guest_set_irq_handler(VEC, on_ipi);
	id0 = guest_apic_id();
	uint64_t base = rdmsr(MSR_IA32_APIC_BASE) & ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t val;
	const uint64_t xapic = base | APIC_BASE_EN, x2apic = xapic | APIC_BASE_EXTD;

	step("read x2APIC MSR in xAPIC mode", guest_rdmsr_safe(0x802, &val), 13, GUEST_APIC_XAPIC);
	step("xAPIC -> x2APIC", set_base(x2apic), 0, GUEST_APIC_X2APIC);
	check_enabled();
	step("x2APIC -> xAPIC", set_base(xapic), 13, GUEST_APIC_X2APIC);
	step("x2APIC -> EN=0 EXTD=1", set_base(base | APIC_BASE_EXTD), 13, GUEST_APIC_X2APIC);
	step("x2APIC -> disabled", set_base(base), 0, GUEST_APIC_DISABLED);
	GUEST_ASSERT_EQ(guest_rdmsr_safe(0x802, &val), 13);
	step("disabled -> x2APIC", set_base(x2apic), 13, GUEST_APIC_DISABLED);
	step("disabled -> xAPIC", set_base(xapic), 0, GUEST_APIC_XAPIC);
	check_enabled();
	step("reserved bit 9", set_base(xapic | BASE_RSVD), 13, GUEST_APIC_XAPIC);
	GUEST_ASSERT_EQ(set_base(base), 0);
	step("xAPIC -> disabled -> xAPIC", set_base(xapic), 0, GUEST_APIC_XAPIC);
	guest_apic_set_mode(GUEST_APIC_XAPIC);

	GUEST_REPORT(CVM_STAGE_USER + 1, steps, gps, delivered);
	GUEST_ASSERT_EQ(delivered, 2);
	guest_printf("apic_mode: PASS: %u steps, %u #GP\n", steps, gps);
	GUEST_DONE();
}
