/* Bounded waits on counters, spinning or sleeping in HLT (see wait.h). */
#include "guest/lib/wait.h"

#include "guest/lib/atomic.h"
#include "guest/lib/x86.h"

bool guest_wait_ge(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc)
{
	uint64_t t0 = rdtsc();
	while (atomic_load32(p) < target) {
		if (rdtsc() - t0 > timeout_tsc)
			return false;
		cpu_relax();
	}
	return true;
}

bool guest_wait_ge_irq(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc)
{
	sti();
	bool ok = guest_wait_ge(p, target, timeout_tsc);
	cli();
	return ok;
}

bool guest_wait_ge_hlt(const volatile uint32_t *p, uint32_t target, uint64_t timeout_tsc)
{
	uint64_t t0 = rdtsc();
	while (atomic_load32(p) < target) {
		if (rdtsc() - t0 > timeout_tsc)
			return false;
		sti_hlt_cli();
	}
	return true;
}

void guest_irq_window(uint64_t ticks)
{
	uint64_t t0 = rdtsc();
	sti();
	while (rdtsc() - t0 < ticks)
		cpu_relax();
	cli();
}
