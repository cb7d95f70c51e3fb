/* INIT-SIPI-SIPI AP bring-up and the AP side of the kit (see smp.h). */
#include "guest/lib/smp.h"

#include "arch/x86/guest_abi.h"
#include "guest/lib/apic.h"
#include "guest/lib/atomic.h"
#include "guest/lib/trap.h"
#include "guest/lib/ucall.h"
#include "guest/lib/util.h"
#include "guest/lib/x86.h"

extern const uint8_t kit_trampoline_start[], kit_trampoline_end[];
extern volatile uint32_t kit_ap_counter, kit_ap_overflow;

/* The trampoline must leave 0x9000 alone: QEMU's multiboot loader puts its info there. */
#define TRAMPOLINE_MAX 0x1000u

static guest_ap_fn ap_fn;
static volatile uint32_t ap_apic_mode;
static volatile uint32_t aps_finished;

void guest_smp_prepare(guest_ap_fn fn)
{
	size_t len = (size_t)(kit_trampoline_end - kit_trampoline_start);
	GUEST_ASSERT(fn);
	GUEST_ASSERT_MSG(len <= TRAMPOLINE_MAX && len <= CVM_GUEST_TRAMPOLINE_SIZE,
	                 "smp: trampoline is %lu bytes", (uint64_t)len);
	memcpy((void *)(uintptr_t)CVM_GUEST_TRAMPOLINE, kit_trampoline_start, len);
	ap_fn = fn;
}

unsigned int guest_smp_aps_arrived(void)
{
	return atomic_load32(&kit_ap_counter);
}

unsigned int guest_smp_aps_finished(void)
{
	return atomic_load32(&aps_finished);
}

unsigned int guest_smp_aps_overflow(void)
{
	return atomic_load32(&kit_ap_overflow);
}

static bool wait_counter(volatile uint32_t *counter, uint32_t target, uint64_t timeout_tsc)
{
	uint64_t t0 = rdtsc();
	while (atomic_load32(counter) < target) {
		if (rdtsc() - t0 > timeout_tsc)
			return false;
		cpu_relax();
	}
	return true;
}

bool guest_smp_wait_finished(unsigned int n, uint64_t timeout_tsc)
{
	return wait_counter(&aps_finished, n, timeout_tsc);
}

static void send_or_fail(uint32_t dest, uint32_t icr_lo)
{
	if (!guest_apic_send_ipi(dest, icr_lo))
		GUEST_FAIL("smp: IPI 0x%x to APIC ID %u stays send-pending", icr_lo, dest);
}

/* INIT assert, [INIT de-assert], SIPI, wait (bounded) for target, SIPI, wait. */
static bool init_sipi_sipi(uint32_t dest, uint32_t shorthand, uint32_t target, uint64_t timeout_tsc)
{
	GUEST_ASSERT_MSG(ap_fn, "smp: guest_smp_prepare() was not called");
	ap_apic_mode = guest_apic_mode();
	send_or_fail(dest, shorthand | APIC_DM_INIT | APIC_LEVEL_ASSERT | APIC_TRIGGER_LEVEL);
	/* The de-assert only exists in xAPIC mode (the SDM drops it for x2APIC). */
	if (ap_apic_mode == GUEST_APIC_XAPIC)
		send_or_fail(dest, shorthand | APIC_DM_INIT | APIC_TRIGGER_LEVEL);
	send_or_fail(dest, shorthand | APIC_DM_STARTUP | KIT_SIPI_VECTOR);
	wait_counter(&kit_ap_counter, target, KIT_TSC_SIPI_GAP);
	send_or_fail(dest, shorthand | APIC_DM_STARTUP | KIT_SIPI_VECTOR);
	return wait_counter(&kit_ap_counter, target, timeout_tsc);
}

unsigned int guest_smp_start_all(unsigned int expected, uint64_t timeout_tsc)
{
	uint32_t before = guest_smp_aps_arrived();
	init_sipi_sipi(0, APIC_DEST_ALL_BUT_SELF, before + expected, timeout_tsc);
	return guest_smp_aps_arrived() - before;
}

bool guest_smp_start_one(uint32_t apic_id, uint64_t timeout_tsc)
{
	uint32_t before = guest_smp_aps_arrived();
	return init_sipi_sipi(apic_id, 0, before + 1, timeout_tsc);
}

/* Called by entry.S on the AP's own stack; never returns. */
__attribute__((noreturn)) void kit_ap_main(unsigned int index);
void kit_ap_main(unsigned int index)
{
	kit_idt_load();
	guest_apic_set_mode((enum guest_apic_mode)ap_apic_mode);
	ap_fn(index, guest_apic_id());
	atomic_fetch_add32(&aps_finished, 1);
	kit_halt_forever();
}
