/* The local APIC timer in one-shot, periodic and TSC-deadline mode (see timer.h). */
#include "guest/lib/timer.h"

#include "guest/lib/apic.h"
#include "guest/lib/ucall.h"
#include "guest/lib/x86.h"

bool guest_tsc_deadline_supported(void)
{
	uint32_t a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	return c & (1u << 24);
}

/* DCR encoding (bits 3, 1:0): 1 -> 0b1011, 2 -> 0b0000, 4 -> 0b0001, ..., 128 -> 0b1010. */
static uint32_t divide_code(unsigned int divide)
{
	static const uint32_t codes[8] = {0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa};
	for (unsigned int i = 0; i < 8; i++)
		if (divide == 1u << i)
			return codes[i];
	GUEST_FAIL("timer: divide %u is not a power of two in 1..128", divide);
}

static void arm_count(uint32_t mode, uint8_t vector, uint32_t count, unsigned int divide)
{
	GUEST_ASSERT_MSG(count > 0, "timer: a zero initial count does not start the timer");
	guest_apic_write(APIC_REG_TIMER_DCR, divide_code(divide));
	guest_apic_write(APIC_REG_LVT_TIMER, mode | vector);
	guest_apic_write(APIC_REG_TIMER_ICR, count);
}

void guest_timer_oneshot(uint8_t vector, uint32_t count, unsigned int divide)
{
	arm_count(APIC_TIMER_ONESHOT, vector, count, divide);
}

void guest_timer_periodic(uint8_t vector, uint32_t count, unsigned int divide)
{
	arm_count(APIC_TIMER_PERIODIC, vector, count, divide);
}

void guest_timer_deadline(uint8_t vector, uint64_t tsc)
{
	GUEST_ASSERT_MSG(guest_tsc_deadline_supported(),
	                 "timer: TSC-deadline mode asked for but CPUID.1:ECX[24] is clear");
	guest_apic_write(APIC_REG_LVT_TIMER, APIC_TIMER_TSC_DEADLINE | vector);
	/* The SDM: serialise the LVT write before arming, or the MSR write may be ignored. */
	__asm__ volatile("mfence" : : : "memory");
	wrmsr(MSR_IA32_TSC_DEADLINE, tsc);
}

void guest_timer_stop(void)
{
	uint32_t lvt = guest_apic_read(APIC_REG_LVT_TIMER);
	if ((lvt & APIC_TIMER_MODE_MASK) == APIC_TIMER_TSC_DEADLINE)
		wrmsr(MSR_IA32_TSC_DEADLINE, 0);
	else
		guest_apic_write(APIC_REG_TIMER_ICR, 0);
	guest_apic_write(APIC_REG_LVT_TIMER, lvt | APIC_LVT_MASKED);
}

uint32_t guest_timer_current(void)
{
	return guest_apic_read(APIC_REG_TIMER_CCR);
}
